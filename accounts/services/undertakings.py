"""The data-use undertaking: its current version, and recording that someone accepted it."""

from __future__ import annotations

import time

from accounts.models import AccountEventType, Undertaking, UndertakingAcceptance, User
from accounts.services.events import event_record

# The newest version, remembered by each process for CURRENT_VERSION_SECONDS (a new version is published
# rarely; publishing one in this process forgets it at once, other processes within that time).
CURRENT_VERSION_SECONDS = 60
_current: tuple[float, int | None] | None = None


def undertaking_current() -> Undertaking | None:
    """The newest version of the data-use undertaking (None only before migration 0009 ran)."""
    return Undertaking.objects.order_by("-version").first()


def undertaking_current_version() -> int | None:
    """The newest version number, from this process's memory when recent (one query at most a minute)."""
    global _current
    now = time.monotonic()
    if _current is None or _current[0] < now:
        version = Undertaking.objects.order_by("-version").values_list("version", flat=True).first()
        _current = (now + CURRENT_VERSION_SECONDS, version)
    return _current[1]


def undertaking_version_forget(**_kwargs) -> None:
    """Forget the remembered newest version (a signal handler: a version was saved in this process)."""
    global _current
    _current = None


def undertaking_accept(*, user: User, undertaking: Undertaking, ip: str | None = None) -> UndertakingAcceptance:
    """Record that `user` accepted `undertaking` (UNDERTAKING_ACCEPTED). Call inside the caller's transaction."""
    acceptance = UndertakingAcceptance.objects.create(user=user, undertaking=undertaking, ip_address=ip or None)
    if (user.undertaking_version or 0) < undertaking.version:
        user.undertaking_version = undertaking.version
        user._history_user, user._change_reason = user, f"accepted the data-use undertaking v{undertaking.version}"
        user.save(update_fields=["undertaking_version"])
    event_record(
        type=AccountEventType.UNDERTAKING_ACCEPTED,
        actor=user,
        subject=user,
        ip=ip,
        data={"version": undertaking.version},
    )
    return acceptance
