"""Prometheus counters of the door and the alerts, counted where their events are written.

`account_event_counted` is called by the one writer of AccountEvents (services/events.py) and
`alerts_counted` by the one writer of alerts (services/alerts.py). Both count after the commit of the
transaction that wrote the rows: a rolled-back event is never counted. Every label value comes from a
fixed set named in this module or in code (a rule's name), never from a request or a person.

In multi-process mode (PROMETHEUS_MULTIPROC_DIR, docs/operations.md "Metrics and logs") each process
writes its own file and /metrics sums them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction
from prometheus_client import Counter

from accounts.models import AccountEventType, Alert

LOGINS = Counter(
    "prahari_logins",
    "Sign-in attempts at the login pages, by outcome: succeeded, a failure before both factors were proven "
    "(wrong_password, unknown_user, inactive, locked, held, ip_blocked, wrong_code), or a refusal after them "
    "(account_state, device_pending).",
    ["outcome"],
)
LOCKOUTS = Counter("prahari_lockouts", "Accounts locked by failures (each lock once).")
LOGIN_HOLDS = Counter("prahari_login_holds", "Locks that became a hold until a supervisor unlocks.")
ALERTS = Counter("prahari_alerts_raised", "Alerts raised, by rule and severity.", ["rule", "severity"])

# The failure categories of the login pages (accounts/login/flow.py) and the outcome each counts as.
# Categories of other steps (step-up, re-confirmation, password change, reset) are not sign-ins.
_LOGIN_FAILURES = {
    "wrong_password": "wrong_password",
    "unknown_user": "unknown_user",
    "inactive": "inactive",
    "locked": "locked",
    "held": "held",
    "ip_blocked": "ip_blocked",
    **{f"otp_{method}": "wrong_code" for method in ("totp", "sms", "backup", "email", "totp_enrol")},
}
OUTCOMES = (*dict.fromkeys(_LOGIN_FAILURES.values()), "succeeded", "account_state", "device_pending")
_RULE_NAME = re.compile(r"[a-z0-9_]{1,40}")

for _outcome in OUTCOMES:  # every outcome is exported from the start, at 0, so rates work from the first one
    LOGINS.labels(_outcome)


def login_outcome(type: AccountEventType, data: dict) -> str | None:
    """The `prahari_logins` outcome an AccountEvent stands for, or None when it is not a sign-in attempt."""
    if type == AccountEventType.LOGIN_SUCCEEDED:
        return "succeeded"
    if type == AccountEventType.LOGIN_REFUSED:
        return "device_pending" if data.get("status") == "device_pending" else "account_state"
    if type in (AccountEventType.LOGIN_FAILED, AccountEventType.OTP_FAILED):
        return _LOGIN_FAILURES.get(data.get("category"))
    return None


def account_event_counted(*, type: AccountEventType, data: dict) -> None:
    """Count the AccountEvent being written (sign-ins, locks, holds) once its transaction commits."""
    if outcome := login_outcome(type, data):
        transaction.on_commit(LOGINS.labels(outcome).inc, robust=True)
    elif type == AccountEventType.LOCKED_OUT:
        transaction.on_commit(LOCKOUTS.inc, robust=True)
    elif type == AccountEventType.LOGIN_HELD:
        transaction.on_commit(LOGIN_HOLDS.inc, robust=True)


def alert_labels(rule: str, severity: int) -> tuple[str, str]:
    """(rule, severity) as labels: a rule name that is not a plain identifier counts as "other"."""
    rule = rule if _RULE_NAME.fullmatch(rule or "") else "other"
    try:
        return rule, Alert.Severity(severity).name.lower()
    except ValueError:
        return rule, "other"


def alerts_counted(alerts: Iterable[Alert]) -> None:
    """Count raised alerts by rule and severity once their transaction commits."""
    children = [ALERTS.labels(*alert_labels(alert.rule, alert.severity)) for alert in alerts]
    if children:
        transaction.on_commit(lambda: [child.inc() for child in children], robust=True)
