"""Ending sessions. Every session is a UserSession row with its owner, so ending them is one statement."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import AccountEventType, User, UserSession
from accounts.services.events import event_record


def sessions_end_for_user(*, user: User) -> int:
    """Delete every session of `user` at once; the next request on any of them is anonymous.

    Called inside the transaction of the service whose change shrinks the user's access; returns
    how many sessions ended (the caller records it in its event).
    """
    deleted, _ = UserSession.objects.filter(user=user).delete()
    return deleted


def sessions_end_for_users(*, users) -> dict[int, int]:
    """`sessions_end_for_user` for many accounts in two statements; returns {user id: sessions ended}."""
    ids = [u.pk for u in users]
    counts = dict(
        UserSession.objects.filter(user_id__in=ids)
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )
    if counts:
        UserSession.objects.filter(user_id__in=ids).delete()
    return counts


def sessions_clear_expired() -> int:
    """Delete every session whose expiry has passed (one statement); return how many went."""
    deleted, _ = UserSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def session_public_id(session_key: str) -> str:
    """A handle for a session that is safe to put in a page (never the session key itself)."""
    return hashlib.sha256(f"prahari-session:{session_key}".encode()).hexdigest()[:20]


@transaction.atomic
def session_end_by_owner(*, user: User, public_id: str, current_key: str | None, ip: str | None) -> bool:
    """End one of `user`'s other sessions, named by its public id; record SESSIONS_ENDED. False if none matched."""
    for row in UserSession.objects.filter(user=user).exclude(session_key=current_key or ""):
        if session_public_id(row.session_key) == public_id:
            row.delete()
            event_record(
                type=AccountEventType.SESSIONS_ENDED,
                actor=user,
                subject=user,
                ip=ip,
                data={"reason": "ended_by_owner"},
            )
            return True
    return False
