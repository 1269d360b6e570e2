"""Writing AccountEvents: the one helper every service uses for its governance event."""

from __future__ import annotations

from accounts.models import AccountEvent, AccountEventType, User


def event_record(
    *,
    type: AccountEventType,
    actor: User | None,
    subject: User | None,
    reason: str = "",
    ip: str | None = None,
    data: dict | None = None,
) -> AccountEvent:
    """Append one AccountEvent. Call it inside the service's transaction so the event and change land together."""
    return AccountEvent.objects.create(
        type=type, actor=actor, subject=subject, reason=reason, ip_address=ip or None, data=data or {}
    )
