"""The access log as its actor sees it: a person's own latest look-ups, for their home page."""

from __future__ import annotations

from accounts.models import User
from records.models import AccessEvent


def access_history(user: User, *, limit: int = 20) -> list[AccessEvent]:
    """The most recent access events of `user`, newest first (their own page, a supervisor's view)."""
    return list(
        AccessEvent.objects.filter(actor=user)
        .select_related("beneficiary")
        .order_by("-created_at", "-actor_seq")[:limit]
    )
