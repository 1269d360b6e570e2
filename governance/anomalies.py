"""The `anomalies` governance job: score new access events (and failed logins) against the anomaly rules.

Each run (governance.jobs.job_run: one transaction, one run at a time):
1. reads where the last run stopped (AnomalyWatermark, one row per log) and where the logs end now
   (their largest ids, read once);
2. explains the new look-ups up to that end (governance/explain.py; the explain job's own runs look
   again at older unexplained ones), so the unexplained_views rules count judged look-ups only; then
   runs every scored rule of the registry (governance/rules/) over the new events: one statement over
   the access events, which reads them once, and one over the account events; the access statement
   also adds their allowed views to the console's tallies (governance/tallies.py);
3. merges overlapping windows of one account and rule into one hit, drops hits an earlier alert
   already covers (same rule, account and an overlapping window: re-runs and overlapping windows never
   alert twice), and raises one Alert per hit as the system actor, with evidence a supervisor can read,
   and one per new canary access the read path did not already alert on (governance/rules/canary.py);
4. suspends, as the system actor with cause `anomaly`, the active accounts with a high or critical
   hit (sessions end, owners are told, one digest per governor), and sends governors one digest of
   the accounts flagged by medium hits;
5. moves the watermarks to the ends read in step 1, in the same transaction.

No event is skipped (governance/watermarks.py): after reading the ends, a run waits until no
transaction older than that read still writes the logs. The rules run after that wait (READ
COMMITTED: each statement sees what committed before it). If an old writer is still there when the
wait ends, the run scores nothing and keeps its watermarks ("held_back"); the next run tries again.
No event is scored twice: a run scores exactly the ids above the watermark and up to the end it
read, then moves the watermark there.

Each rule's severity, and why, is in its module: high and critical suspend the account in the same run,
medium goes to the governors' "flagged" digest for a supervisor to judge.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import AccountEvent, Alert, SuspensionCause, User
from accounts.services.alerts import alert_raise_many
from accounts.services.lifecycle import users_suspend_matching
from accounts.services.system import system_user
from governance.digests import digest_send_for_ids
from governance.explain import explained_through
from governance.rules import canary, statements
from governance.rules.base import ACCESS, Hit, Scan, Span
from governance.watermarks import log_ends, older_writers_gone, watermarks_lock, watermarks_move
from records.models import AccessEvent, AnomalyWatermark

Stream = AnomalyWatermark.Stream
SUSPENDING = (Alert.Severity.HIGH, Alert.Severity.CRITICAL)
ANOMALY_STREAMS = (Stream.ACCESS_EVENTS, Stream.ACCOUNT_EVENTS)


def anomalies(*, now: datetime, dry_run: bool = False) -> dict:
    """Score the access and account events logged since the last run; raise alerts, suspend on high ones.

    Side effects: Alert rows (history by the system actor), suspensions with cause `anomaly` (history,
    USER_SUSPENDED events, sessions ended, `account_suspended` to the owner), governance digests
    ("suspended", "flagged"), the watermarks moved. A fixed number of statements whatever the number
    of accounts or events.
    """
    marks = watermarks_lock(ANOMALY_STREAMS)
    hi, account_hi, read_at = log_ends()
    if not older_writers_gone(read_at):
        return {"held_back": _("a transaction older than this run is still writing the logs"), "events_scored": 0}
    explained_through(hi=hi, now=now, recheck=False)  # every look-up scored is judged: unexplained_views counts on it
    scan = _scan(marks, hi, account_hi, now)
    hits = statements.hits(scan)  # the statements run even on nothing new: a fixed count
    merged = _unseen(_merge(hits), since=now - timedelta(days=3))
    new_alerts = [_alert(hit, events) for hit, events in zip(merged, _evidence(merged, scan), strict=True)]
    canaries, already = _canary_alerts(scan)
    raised = alert_raise_many([*new_alerts, *canaries], raised_by=system_user())
    suspended, flagged = _act_on(raised, now=now)
    watermarks_move({Stream.ACCESS_EVENTS: hi, Stream.ACCOUNT_EVENTS: account_hi})
    return {
        "events_scored": scan.spans[Stream.ACCESS_EVENTS].count,
        "account_events_scored": scan.spans[Stream.ACCOUNT_EVENTS].count,
        "alerts": dict(sorted(Counter(a.rule for a in raised).items())),
        "canary_already_alerted": already,
        "suspended": suspended,
        "flagged": flagged,
    }


def _scan(marks: dict[str, int], hi: int, account_hi: int, now: datetime) -> Scan:
    spans = {}
    for stream, model, end in (
        (Stream.ACCESS_EVENTS, AccessEvent, hi),
        (Stream.ACCOUNT_EVENTS, AccountEvent, account_hi),
    ):
        new = model.objects.filter(id__gt=marks[stream], id__lte=end).aggregate(t=Min("created_at"), n=Count("id"))
        spans[stream] = Span(marks[stream], end, new["t"] or now, new["n"])
    return Scan(spans, offset=int(timezone.localtime(now).utcoffset().total_seconds()))


# --- Hits → alerts ------------------------------------------------------------------------------------


def _merge(hits: list[Hit]) -> list[Hit]:
    """One hit per run of overlapping windows of one account and rule: the union of the windows, with the
    peak count (and that window's figures)."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.rule.name, h.actor_id, h.start, h.end)):
        hit.start, hit.end = round(hit.start, 3), round(hit.end, 3)
        last = merged[-1] if merged else None
        if last and (last.rule, last.actor_id) == (hit.rule, hit.actor_id) and hit.start <= last.end:
            last.end = max(last.end, hit.end)
            if hit.count > last.count:
                last.count, last.numbers = hit.count, hit.numbers
        else:
            merged.append(hit)
    return merged


def _window(evidence: dict) -> tuple[float, float] | None:
    try:
        start = datetime.fromisoformat(evidence["window_start"]).timestamp()
        return round(start, 3), round(datetime.fromisoformat(evidence["window_end"]).timestamp(), 3)
    except (KeyError, TypeError, ValueError):
        return None


def _unseen(hits: list[Hit], *, since: datetime) -> list[Hit]:
    """Drop hits an alert already covers: same rule and account, overlapping window (one query)."""
    if not hits:
        return []
    earliest = datetime.fromtimestamp(min(h.start for h in hits), tz=UTC) - timedelta(days=2)
    known = defaultdict(list)
    for rule, subject, evidence in Alert.objects.filter(
        rule__in={h.rule.name for h in hits}, created_at__gte=min(earliest, since)
    ).values_list("rule", "subject_id", "evidence"):
        window = _window(evidence or {})
        if window:
            known[rule, subject].append(window)
    return [
        h for h in hits if not any(start <= h.end and h.start <= end for start, end in known[h.rule.name, h.actor_id])
    ]


def _local(seconds: float) -> str:
    return timezone.localtime(datetime.fromtimestamp(seconds, tz=UTC)).isoformat(timespec="milliseconds")


def _evidence(hits: list[Hit], scan: Scan) -> list[list[tuple]]:
    """The events behind each hit, in time order: one statement for them all (each rule's accounts and span)."""
    by_rule = defaultdict(list)
    for hit in hits:
        by_rule[hit.rule].append(hit)
    requests = [
        (
            rule,
            sorted({h.actor_id for h in chosen}),
            datetime.fromtimestamp(min(h.start for h in chosen) - 1, tz=UTC),
            datetime.fromtimestamp(max(h.end for h in chosen) + 1, tz=UTC),
        )
        for rule, chosen in by_rule.items()
    ]
    events = defaultdict(list)  # (rule, account) → (account, event id, time, IP), in time order
    for rule, *event in statements.events_in(requests, scan):
        events[rule, event[0]].append(tuple(event))
    return [
        [e for e in events[hit.rule.name, hit.actor_id] if hit.start - 0.001 <= e[2] <= hit.end + 0.001] for hit in hits
    ]


def _stored(text, numbers: dict) -> str:
    """The evidence's one-line summary, always in English: it is a record, whoever's request runs the job
    (the console can render the numbers in its reader's language)."""
    with translation.override("en"):
        return str(text) % numbers if numbers else str(text)


def _alert(hit: Hit, events: list[tuple]) -> dict:
    rule, keep = hit.rule, settings.PRAHARI_ANOMALY_EVIDENCE_EVENTS
    numbers = {"count": hit.count, "threshold": hit.threshold, **hit.numbers}
    evidence = {
        **{k: v for k, v in numbers.items() if v is not None},
        "window_start": _local(hit.start),
        "window_end": _local(hit.end),
        "events_in_window": len(events),
        "events": [e[1] for e in events[:keep]],
        "summary": _stored(rule.words.summary, numbers),
    }
    if rule.lists_ips:
        evidence["ips"] = sorted({str(e[3]) for e in events if e[3]})
    if rule.log is not ACCESS:  # the alert page lists its events from that log (access events by default)
        evidence["log"] = rule.log.stream
    return {"rule": rule.name, "severity": rule.severity, "subject_id": hit.actor_id, "evidence": evidence}


def _canary_alerts(scan: Scan) -> tuple[list[dict], int]:
    """Alerts for new canary accesses that have none yet (the read path raises its own, with the event id,
    in the same transaction as the access): normally none. Returns (alerts to raise, already alerted)."""
    events, rule = canary.accesses(scan), canary.RULE
    if not events:
        return [], 0
    ids = [e[0] for e in events]
    alerted = set(
        Alert.objects.filter(rule=rule.name, evidence__access_event__in=ids).values_list(
            "evidence__access_event", flat=True
        )
    )
    alerts = [
        {
            "rule": rule.name,
            "severity": rule.severity,
            "subject_id": actor,
            "evidence": {
                "access_event": event_id,
                "action": action,
                "beneficiary": beneficiary,
                "window_start": _local(at),
                "window_end": _local(at),
                "events": [event_id],
                "summary": _stored(rule.words.summary, {}),
            },
        }
        for event_id, actor, at, action, beneficiary in events
        if event_id not in alerted
    ]
    return alerts, len(events) - len(alerts)


def _act_on(raised: list[Alert], *, now: datetime) -> tuple[int, int]:
    """Suspend the active accounts with a high or critical new alert; digest the others to their governors.

    Returns (suspended, flagged) counts. Both are set-based (`users_suspend_matching`, as the dormancy job
    suspends: one statement whatever the number), so the accounts are never loaded.
    """
    if not raised:
        return 0, 0
    severe = {a.subject_id for a in raised if a.severity in SUSPENDING}
    subjects = {a.subject_id for a in raised}
    suspended: list[int] = []
    if severe:
        suspended = users_suspend_matching(
            User.objects.filter(pk__in=sorted(severe), is_system=False),
            acting_user=system_user(),
            reason="governance job anomalies: high-severity access anomaly (see the account's open alerts)",
            cause=SuspensionCause.ANOMALY,
            now=now,
        )
    digest_send_for_ids(job_name="anomalies", action="suspended", ids=suspended, run_at=now)
    flagged = list(
        User.objects.filter(pk__in=sorted(subjects - severe), is_system=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    digest_send_for_ids(job_name="anomalies", action="flagged", ids=flagged, run_at=now)
    return len(suspended), len(flagged)
