"""Writing AccountEvents: the one helper every service uses for its governance event."""

from __future__ import annotations

from accounts.metrics import account_event_counted
from accounts.models import AccountEvent, AccountEventType, User
from accounts.services.setsql import row_insert


def event_record(
    *,
    type: AccountEventType,
    actor: User | None,
    subject: User | None,
    reason: str = "",
    ip: str | None = None,
    data: dict | None = None,
) -> AccountEvent:
    """Append one AccountEvent. Call it inside the service's transaction so the event and change land together.

    Written by an INSERT built once (`row_insert`): the ORM built it anew for every event, and an event
    has no save() of its own to run at an insert (AccountEvent.save only refuses a change). Sign-ins,
    locks and holds are counted for /metrics once the transaction commits (accounts/metrics.py).
    """
    event = AccountEvent(type=type, actor=actor, subject=subject, reason=reason, ip_address=ip or None, data=data or {})
    row_insert(event)
    account_event_counted(type=type, data=event.data)
    return event
