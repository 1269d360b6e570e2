"""Re-verification (access review): when each account is due, and the decisions that move it.

An account's first review falls due one period after its approval; each attestation starts the next
period. Workers are due every PRAHARI_REVERIFY_DAYS_WORKER days, supervisors and state
administrators every PRAHARI_REVERIFY_DAYS_SUPERVISOR (SECURITY.md §Accounts and reviews).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from accounts.models import Role, User


def review_period_days(user: User) -> int:
    if user.role == Role.WORKER:
        return settings.PRAHARI_REVERIFY_DAYS_WORKER
    return settings.PRAHARI_REVERIFY_DAYS_SUPERVISOR


def review_due_from(user: User, start: datetime) -> datetime:
    """When `user`'s next review falls due if a period starts at `start`."""
    return start + timedelta(days=review_period_days(user))
