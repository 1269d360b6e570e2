"""The data-use undertaking: its current version, and recording that someone accepted it."""

from __future__ import annotations

from accounts.models import AccountEventType, Undertaking, UndertakingAcceptance, User
from accounts.services.events import event_record


def undertaking_current() -> Undertaking | None:
    """The newest version of the data-use undertaking (None only before migration 0009 ran)."""
    return Undertaking.objects.order_by("-version").first()


def undertaking_accept(*, user: User, undertaking: Undertaking, ip: str | None = None) -> UndertakingAcceptance:
    """Record that `user` accepted `undertaking` (UNDERTAKING_ACCEPTED). Call inside the caller's transaction."""
    acceptance = UndertakingAcceptance.objects.create(user=user, undertaking=undertaking, ip_address=ip or None)
    event_record(
        type=AccountEventType.UNDERTAKING_ACCEPTED,
        actor=user,
        subject=user,
        ip=ip,
        data={"version": undertaking.version},
    )
    return acceptance
