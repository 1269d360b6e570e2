"""Alerts: raised by rules (canary, anomaly jobs), decided by a governor with a reason.

Decisions keep who, when and why in the alert's history; `ip` is accepted like every console
decision's, but an alert has no place for it.

Supervisors hear of alerts through the governance jobs' digest (one message per run, not one per
alert) and the console; a canary hit also suspends the account, which notifies on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts.exceptions import IllegalTransition
from accounts.metrics import alerts_counted
from accounts.models import Alert, User
from accounts.permissions import ensure_may
from accounts.services.reasons import clean_reason


@transaction.atomic
def alert_raise(*, rule: str, severity: Alert.Severity, subject: User, evidence: dict, raised_by: User) -> Alert:
    """Record an open alert about `subject`; history names `raised_by` (the system actor for rules)."""
    return alert_raise_many(
        [{"rule": rule, "severity": severity, "subject": subject, "evidence": evidence}], raised_by=raised_by
    )[0]


@transaction.atomic
def alert_raise_many(alerts: Iterable[dict], *, raised_by: User) -> list[Alert]:
    """`alert_raise` for many alerts (dicts of its arguments, `subject` or `subject_id`) in two statements
    (the alerts, their history rows) whatever their number, for the governance jobs. Counted for /metrics
    by rule and severity once the transaction commits."""
    rows = []
    for fields in alerts:
        alert = Alert(**fields)
        alert._history_user = raised_by
        alert._change_reason = f"raised by rule {alert.rule}"
        rows.append(alert)
    if not rows:
        return []
    created = bulk_create_with_history(rows, Alert, batch_size=None, default_user=raised_by)
    alerts_counted(created)
    return created


def _decide(alert: Alert, *, status: str, acting_user: User, reason: str) -> Alert:
    reason = clean_reason(reason)
    alert = Alert.objects.select_for_update().select_related("subject").get(pk=alert.pk)
    ensure_may(acting_user, alert.subject, "decide_alert")
    if alert.status != Alert.State.OPEN:
        raise IllegalTransition(
            _("This alert was already decided: %(status)s.") % {"status": alert.get_status_display()}
        )
    alert.status, alert.decided_by, alert.decided_at, alert.decision_reason = (
        status,
        acting_user,
        timezone.now(),
        reason,
    )
    alert._history_user = acting_user
    alert._change_reason = reason
    alert.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return alert


@transaction.atomic
def alert_confirm(*, alert: Alert, acting_user: User, reason: str, ip: str | None = None) -> Alert:
    """Confirm an open alert (a real problem), as a governor of its subject.

    Raises NotPermitted or IllegalTransition.
    """
    return _decide(alert, status=Alert.State.CONFIRMED, acting_user=acting_user, reason=reason)


@transaction.atomic
def alert_dismiss(*, alert: Alert, acting_user: User, reason: str, ip: str | None = None) -> Alert:
    """Dismiss an open alert (a false alarm), as a governor of its subject. Raises NotPermitted or IllegalTransition."""
    return _decide(alert, status=Alert.State.DISMISSED, acting_user=acting_user, reason=reason)
