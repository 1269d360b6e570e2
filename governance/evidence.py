"""An alert in words: what its rule means and what its evidence says, in the reader's language.

The evidence JSON is written by the rules (governance/anomalies.py, records/services.py: budget and canary)
as numbers, local ISO times and event ids, plus a one-line English summary kept as a record. Each rule of
the registry (governance/rules/) says in its `Words` what it means and how its numbers read as sentences in
the active language; this module puts them together for one alert, and `alert_triage_read` reads what the
console's alert page shows beside them (the window's figures and timeline, governance/timeline.py; the events
behind the alert; the account's devices and other alerts) in a fixed number of queries.

Evidence from another version of a rule, or none at all, never breaks the page: whatever cannot be read
falls back to the stored summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import AccountEvent, Alert, RegisteredDevice, User
from governance.rules.base import ACCESS, ACCOUNT, Rule
from governance.rules.registry import BY_NAME
from governance.rules.words import number, span
from governance.timeline import (
    Figures,
    Timeline,
    alert_scope,
    day_bounds,
    figures_read,
    timeline_read,
    window_sentences,
)

OTHER_ALERTS = 5


@dataclass
class Explanation:
    """What the page says about one alert; `events` are the ids of the events behind it (in `log`)."""

    title: str
    meaning: str
    lines: list[str] = field(default_factory=list)
    log: str = "access"  # "access" (records.AccessEvent) or "account" (accounts.AccountEvent)
    events: list[int] = field(default_factory=list)
    events_in_window: int | None = None
    day: str | None = None  # a rule's `day_of_refusals` (daily_budget): the local day (ISO) of its events


def rule_title(rule: str) -> str:
    """Name the rule in words (its stored name for a rule this version does not know)."""
    return str(BY_NAME[rule].words.title) if rule in BY_NAME else rule


def _meaning(rule: Rule | None) -> str:
    if rule is None:
        return _("A rule this version of the console does not describe.")
    return rule.words.meaning_text()


def _lines(rule: Rule | None, evidence: dict, alert: Alert) -> list[str]:
    """Say the evidence in the rule's sentences, then its window's (for the rules over sliding windows: the day
    and night rules say it already); raises KeyError, TypeError or ValueError on evidence it cannot read."""
    if rule is None:
        raise KeyError(alert.rule)
    lines = rule.words.lines(evidence, alert)
    if rule.words.window_line is not None and "events_in_window" in evidence:
        numbers = {**span(evidence), "events": number(evidence["events_in_window"])}
        lines.append(str(rule.words.window_line) % numbers)
    return lines


def alert_explain(alert: Alert) -> Explanation:
    """The alert's rule and evidence in words (active language); the stored summary where they cannot be read."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    rule = BY_NAME.get(alert.rule)
    explanation = Explanation(title=rule_title(alert.rule), meaning=_meaning(rule))
    try:
        explanation.lines = _lines(rule, evidence, alert)
    except (KeyError, TypeError, ValueError, AttributeError):
        summary = evidence.get("summary")
        explanation.lines = [str(summary)] if summary else [_("No details were recorded with this alert.")]
    log = rule.log if rule is not None else ACCESS
    if evidence.get("log") == ACCOUNT.stream:  # an alert of another version of a rule names its log
        log = ACCOUNT
    explanation.log = log.page
    ids = evidence.get("events") or ([evidence["access_event"]] if evidence.get("access_event") else [])
    explanation.events = [int(i) for i in ids if isinstance(i, int) or str(i).isdigit()]
    explanation.events_in_window = evidence.get("events_in_window")
    if rule is not None and rule.words.day_of_refusals and isinstance(evidence.get("day"), str):
        explanation.day = evidence["day"]
    return explanation


# --- What the page shows beside it ------------------------------------------------------------------------


@dataclass
class Triage:
    alert: Alert
    explanation: Explanation
    evidence_events: list  # AccessEvent or AccountEvent rows, in time order
    devices: list[RegisteredDevice]
    other_alerts: list[Alert]
    figures: Figures | None = None  # of the alert's window (governance/timeline.py), when it names one
    timeline: Timeline | None = None
    window_sentences: list[str] = field(default_factory=list)


def _evidence_events(alert: Alert, explanation: Explanation) -> list:
    from records.models import AccessEvent

    if explanation.log == "account":
        rows = AccountEvent.objects.filter(pk__in=explanation.events, subject_id=alert.subject_id)
        return list(rows.order_by("created_at", "pk"))
    events = AccessEvent.objects.filter(actor_id=alert.subject_id).select_related("beneficiary", "device")
    if explanation.day is not None:  # daily_budget keeps no ids: the day's refusals are its evidence
        start, end = day_bounds(explanation.day)
        day = {"created_at__gte": start, "created_at__lt": end}  # the local day, indexed
        refused = events.filter(**day, outcome=AccessEvent.Outcome.OVER_BUDGET).order_by("created_at", "pk")
        return list(refused[: settings.PRAHARI_ANOMALY_EVIDENCE_EVENTS])
    return list(events.filter(pk__in=explanation.events).order_by("created_at", "pk"))


def with_purpose(rows: list) -> list:
    """Give each access event its purpose's label (`purpose_label`), in the active language."""
    from records.keys import Purpose

    labels = dict(Purpose.choices)
    for row in rows:
        if hasattr(row, "purpose"):
            row.purpose_label = labels.get(row.purpose, row.purpose)
    return rows


def alert_triage_read(alert: Alert) -> Triage:
    """Everything the alert's page shows, in six queries whatever the number of events or devices.

    `alert` comes with its subject (the caller read it through the viewer's scope).
    """
    explanation = alert_explain(alert)
    subject: User = alert.subject
    devices = RegisteredDevice.objects.filter(user=subject).order_by("status", "-last_seen_at", "-created_at")
    others = list(Alert.objects.filter(subject=subject).exclude(pk=alert.pk).order_by("-created_at")[:OTHER_ALERTS])
    for other in others:
        other.rule_title = rule_title(other.rule)
    triage = Triage(
        alert=alert,
        explanation=explanation,
        evidence_events=with_purpose(_evidence_events(alert, explanation)),
        devices=list(devices),
        other_alerts=others,
    )
    scope = alert_scope(alert, log=explanation.log, day=explanation.day, ids=explanation.events)
    if scope is not None:
        triage.figures = figures_read(scope, subject.pk)
        triage.timeline = timeline_read(scope, subject.pk, triage.figures)
        triage.window_sentences = window_sentences(triage.figures)
    if triage.timeline is not None:
        triage.timeline.title = _("Timeline of the events behind this alert, %(day)s, of %(user)s") % {
            "day": triage.timeline.day,
            "user": subject,
        }
        triage.timeline.description = " ".join([*triage.window_sentences, triage.timeline.scale_text])
    return triage
