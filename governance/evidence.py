"""An alert in words: what its rule means and what its evidence says, in the reader's language.

The evidence JSON is written by the rules (governance/anomalies.py, records/services.py: budget and canary)
as numbers, local ISO times and event ids, plus a one-line English summary kept as a record. This module
turns those numbers into sentences in the active language, and `alert_triage_read` reads what the
console's alert page shows beside them (the events behind the alert, the account's recent access
events, its devices, its other alerts) in a fixed number of queries.

Evidence from another version of a rule, or none at all, never breaks the page: whatever cannot be read
falls back to the stored summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AccountEvent, Alert, RegisteredDevice, User

RECENT_EVENTS = 20  # the account's latest access events shown on the page
OTHER_ALERTS = 5

# rule → (its name, what it means). Severity and the action the rule took are the alert's own fields.
RULES = {
    "volume_burst": (
        gettext_lazy("Burst of record views"),
        gettext_lazy(
            "More record views in a few minutes than any task at a vaccination centre needs: records may be "
            "being copied out. The account was suspended when the alert was raised."
        ),
    ),
    "cadence": (
        gettext_lazy("Machine-like pace"),
        gettext_lazy(
            "Many requests in a row at an almost even pace, as a program makes them, not a person. "
            "The account was suspended when the alert was raised."
        ),
    ),
    "canary": (
        gettext_lazy("Canary record opened"),
        gettext_lazy(
            "A canary is a made-up record that no real work leads to: opening it means someone was browsing "
            "records. The account was suspended at once."
        ),
    ),
    "daily_budget": (
        gettext_lazy("Daily limit used up"),
        gettext_lazy(
            "The account used every record look-up of its daily limit; further look-ups that day were refused. "
            "Check what work needed so many."
        ),
    ),
    "baseline_spike": (
        gettext_lazy("Far more record views than usual"),
        gettext_lazy(
            "A day with many more record views than this account's own busy days. Vaccination drives cause "
            "such days too: ask the worker and their facility."
        ),
    ),
    "out_of_scope": (
        gettext_lazy("Requests outside the account's area"),
        gettext_lazy(
            "Several requests in one day for records the account may not open. Mistyped reference ids cause "
            "some; many may mean someone is trying ids."
        ),
    ),
    "night_views": (
        gettext_lazy("Record views at night"),
        gettext_lazy(
            "Many record views between %(start)02d:00 and %(end)02d:00. Night shifts exist: check the worker's roster."
        ),
    ),
    "many_ips": (
        gettext_lazy("Many IP addresses"),
        gettext_lazy(
            "Requests from several IP addresses within an hour. Mobile networks change addresses; many at "
            "once may mean the login is used by more than one person."
        ),
    ),
    "failed_logins": (
        gettext_lazy("Failed logins"),
        gettext_lazy(
            "Many wrong passwords or one-time codes in a few minutes: someone may be guessing at this account."
        ),
    ),
}


@dataclass
class Explanation:
    """What the page says about one alert; `events` are the ids of the events behind it (in `log`)."""

    title: str
    meaning: str
    lines: list[str] = field(default_factory=list)
    log: str = "access"  # "access" (records.AccessEvent) or "account" (accounts.AccountEvent)
    events: list[int] = field(default_factory=list)
    events_in_window: int | None = None
    day: str | None = None  # daily_budget: the local day (ISO) whose refusals are its events


def rule_title(rule: str) -> str:
    return str(RULES[rule][0]) if rule in RULES else rule


def _meaning(rule: str) -> str:
    if rule not in RULES:
        return _("A rule this version of the console does not describe.")
    text = str(RULES[rule][1])
    if rule == "night_views":
        text %= {"start": settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, "end": settings.PRAHARI_ANOMALY_NIGHT_END_HOUR}
    return text


# --- Numbers and times in the reader's language ------------------------------------------------------------


def _number(value) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.1f}"


def _local(iso: str) -> datetime:
    return timezone.localtime(datetime.fromisoformat(iso))


def _moment(when: datetime) -> str:
    return date_format(when, "j M Y, H:i")


def _span(evidence: dict) -> dict:
    """{start, end, day}: the window's ends in local time (the end without its date when on the same day)."""
    start, end = _local(evidence["window_start"]), _local(evidence["window_end"])
    same_day = start.date() == end.date()
    return {
        "start": _moment(start),
        "end": date_format(end, "H:i") if same_day else _moment(end),
        "day": date_format(start, "j M Y"),
    }


def _window_line(rule: str, evidence: dict) -> str | None:
    """For the sliding-window rules, the merged window and all it holds (the day and night rules say it already)."""
    if rule not in ("volume_burst", "cadence", "many_ips", "failed_logins") or "events_in_window" not in evidence:
        return None
    numbers = {**_span(evidence), "events": _number(evidence["events_in_window"])}
    if rule == "failed_logins":
        return _("From %(start)s to %(end)s: %(events)s failed attempts in all.") % numbers
    if rule in ("cadence", "many_ips"):
        return _("From %(start)s to %(end)s: %(events)s requests in all.") % numbers
    return _("From %(start)s to %(end)s: %(events)s record views in all.") % numbers


def _figures(evidence: dict) -> dict:
    return {
        key: _number(evidence[key])
        for key in ("count", "threshold", "minutes", "baseline", "factor", "percentile", "history_days")
        if evidence.get(key) is not None
    }


def _lines(rule: str, evidence: dict, alert: Alert) -> list[str]:
    """The rule's figures as sentences; raises KeyError, TypeError or ValueError on evidence it cannot read."""
    n = _figures(evidence)
    if rule == "volume_burst":
        return [_("%(count)s record views within %(minutes)s minutes; more than %(threshold)s raise this alert.") % n]
    if rule == "baseline_spike":
        return [
            _("%(count)s record views on %(day)s.") % {**n, "day": _span(evidence)["day"]},
            _(
                "This account's usual busy day (the %(percentile)sth percentile of its %(history_days)s active days "
                "in the %(days)s before) has %(baseline)s views; more than %(factor)s times that (%(threshold)s) "
                "raise this alert."
            )
            % {**n, "days": settings.PRAHARI_ANOMALY_BASELINE_DAYS},
        ]
    if rule == "out_of_scope":
        return [
            _(
                "%(count)s requests for records outside the account's area on %(day)s; %(threshold)s or more in a "
                "day raise this alert."
            )
            % {**n, "day": _span(evidence)["day"]}
        ]
    if rule == "night_views":
        return [
            _(
                "%(count)s record views in the night from %(start)s to %(end)s; more than %(threshold)s "
                "raise this alert."
            )
            % {**n, **_span(evidence)}
        ]
    if rule == "cadence":
        return [
            _(
                "%(count)s requests in a row, one every %(gap)s seconds on average, the gaps varying by only "
                "%(variation)s%%; under %(threshold)s%% looks like a program, not a person."
            )
            % {
                **n,
                "gap": _number(evidence["mean_gap_seconds"]),
                "variation": _number(evidence["gap_variation_percent"]),
            }
        ]
    if rule == "many_ips":
        return [
            _(
                "Requests from %(count)s different IP addresses within %(minutes)s minutes; %(threshold)s or more "
                "raise this alert."
            )
            % n,
            _("Addresses: %(ips)s.") % {"ips": ", ".join(evidence["ips"])},
        ]
    if rule == "failed_logins":
        lines = [
            _(
                "%(count)s failed passwords or one-time codes within %(minutes)s minutes; %(threshold)s or more "
                "raise this alert."
            )
            % n
        ]
        if evidence.get("ips"):
            lines.append(_("Tried from: %(ips)s.") % {"ips": ", ".join(evidence["ips"])})
        return lines
    if rule == "daily_budget":
        day = date_format(datetime.fromisoformat(evidence["day"]), "j M Y")
        return [
            _("All %(budget)s record look-ups of %(day)s were used; every further look-up that day was refused.")
            % {"budget": _number(evidence["budget"]), "day": day}
        ]
    if rule == "canary":
        return [_canary_line(evidence, alert)]
    raise KeyError(rule)


def _canary_line(evidence: dict, alert: Alert) -> str:
    verbs = {"view": _("opened"), "reveal": _("revealed"), "search": _("searched for")}
    action = verbs.get(evidence.get("action"), evidence.get("action") or "?")
    if "record" in evidence:  # raised by the read path, in the same transaction as the access
        return _(
            "Canary record %(record)s of facility %(facility)s was %(action)s at %(time)s, from IP address %(ip)s."
        ) % {
            "record": evidence["record"],
            "facility": evidence.get("facility") or "?",
            "action": action,
            "time": _moment(timezone.localtime(alert.created_at)),
            "ip": evidence.get("ip") or "?",
        }
    return _("A canary record was %(action)s at %(time)s.") % {
        "action": action,
        "time": _moment(_local(evidence["window_start"])),
    }


def alert_explain(alert: Alert) -> Explanation:
    """The alert's rule and evidence in words (active language); the stored summary where they cannot be read."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    explanation = Explanation(title=rule_title(alert.rule), meaning=_meaning(alert.rule))
    try:
        explanation.lines = _lines(alert.rule, evidence, alert)
        if line := _window_line(alert.rule, evidence):
            explanation.lines.append(line)
    except (KeyError, TypeError, ValueError, AttributeError):
        summary = evidence.get("summary")
        explanation.lines = [str(summary)] if summary else [_("No details were recorded with this alert.")]
    explanation.log = (
        "account" if alert.rule == "failed_logins" or evidence.get("log") == "account_events" else "access"
    )
    ids = evidence.get("events") or ([evidence["access_event"]] if evidence.get("access_event") else [])
    explanation.events = [int(i) for i in ids if isinstance(i, int) or str(i).isdigit()]
    explanation.events_in_window = evidence.get("events_in_window")
    if alert.rule == "daily_budget" and isinstance(evidence.get("day"), str):
        explanation.day = evidence["day"]
    return explanation


# --- What the page shows beside it ------------------------------------------------------------------------


@dataclass
class Triage:
    alert: Alert
    explanation: Explanation
    evidence_events: list  # AccessEvent or AccountEvent rows, in time order
    recent_events: list  # the subject's latest access events, newest first
    devices: list[RegisteredDevice]
    other_alerts: list[Alert]


def _evidence_events(alert: Alert, explanation: Explanation) -> list:
    from records.models import AccessEvent

    if explanation.log == "account":
        rows = AccountEvent.objects.filter(pk__in=explanation.events, subject_id=alert.subject_id)
        return list(rows.order_by("created_at", "pk"))
    events = AccessEvent.objects.filter(actor_id=alert.subject_id).select_related("beneficiary", "device")
    if explanation.day is not None:  # daily_budget keeps no ids: the day's refusals are its evidence
        start = timezone.make_aware(datetime.combine(date.fromisoformat(explanation.day), time.min))
        day = {"created_at__gte": start, "created_at__lt": start + timedelta(days=1)}  # the local day, indexed
        refused = events.filter(**day, outcome=AccessEvent.Outcome.OVER_BUDGET).order_by("created_at", "pk")
        return list(refused[: settings.PRAHARI_ANOMALY_EVIDENCE_EVENTS])
    return list(events.filter(pk__in=explanation.events).order_by("created_at", "pk"))


def _with_purpose(rows: list) -> list:
    """Give each access event its purpose's label (`purpose_label`), in the active language."""
    from records.keys import Purpose

    labels = dict(Purpose.choices)
    for row in rows:
        if hasattr(row, "purpose"):
            row.purpose_label = labels.get(row.purpose, row.purpose)
    return rows


def alert_triage_read(alert: Alert) -> Triage:
    """Everything the alert's page shows, in five queries whatever the number of events or devices.

    `alert` comes with its subject (the caller read it through the viewer's scope).
    """
    from records.models import AccessEvent

    explanation = alert_explain(alert)
    subject: User = alert.subject
    recent = (
        AccessEvent.objects.filter(actor=subject)
        .select_related("beneficiary", "device")
        .order_by("-created_at", "-pk")[:RECENT_EVENTS]
    )
    devices = RegisteredDevice.objects.filter(user=subject).order_by("status", "-last_seen_at", "-created_at")
    others = list(Alert.objects.filter(subject=subject).exclude(pk=alert.pk).order_by("-created_at")[:OTHER_ALERTS])
    for other in others:
        other.rule_title = rule_title(other.rule)
    evidence_events, recent = _with_purpose(_evidence_events(alert, explanation)), _with_purpose(list(recent))
    return Triage(
        alert=alert,
        explanation=explanation,
        evidence_events=evidence_events,
        recent_events=recent,
        devices=list(devices),
        other_alerts=others,
    )
