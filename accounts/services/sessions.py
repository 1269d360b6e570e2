"""Ending sessions. Every session is a UserSession row with its owner, so ending them is one statement."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User, UserSession


def sessions_end_for_user(*, user: User) -> int:
    """Delete every session of `user` at once; the next request on any of them is anonymous.

    Called inside the transaction of the service whose change shrinks the user's access; returns
    how many sessions ended (the caller records it in its event).
    """
    deleted, _ = UserSession.objects.filter(user=user).delete()
    return deleted


def sessions_clear_expired() -> int:
    """Delete every session whose expiry has passed (one statement); return how many went."""
    deleted, _ = UserSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
