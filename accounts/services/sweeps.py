"""Set-based lifecycle work for the governance jobs: the same change as a lifecycle service, for many rows at once.

A job that suspends a hundred accounts must not cost a hundred times the queries of one (ARCHITECTURE.md
§7). These helpers make the change of `accounts.services.lifecycle` to a batch of rows the caller has
selected and locked: history for every row (actor and reason), one AccountEvent per row, sessions
ended and owners notified, in a fixed number of statements per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from accounts.exceptions import IllegalTransition
from accounts.models import AccountEvent, AccountEventType, Status, SuspensionCause, User, UserSession
from accounts.services.lifecycle import TRANSITIONS
from accounts.services.notifications import notify_many


def users_suspend_set(
    *, users: Sequence[User], acting_user: User, reason: str, cause: SuspensionCause, data: dict | None = None
) -> int:
    """Suspend every account in `users` (rows the caller locked, all active) for `cause`, as `acting_user`.

    Like `user_suspend` for each: history (actor, reason), USER_SUSPENDED (with `data[user.pk]` added
    to its details when given), every session ended, the owner notified (account_suspended). The
    caller chose the rows through `accounts.scoping` and holds the transaction. Returns how many.
    Raises IllegalTransition if a row is not active (nothing is changed then).
    """
    users = list(users)
    if not users:
        return 0
    sources, target = TRANSITIONS["suspend"]
    if any(u.status not in sources for u in users):
        raise IllegalTransition(f"Only active accounts can be suspended ({cause}).")
    now = timezone.now()
    ids = [u.pk for u in users]
    with transaction.atomic():
        sessions = dict(
            UserSession.objects.filter(user_id__in=ids).values_list("user_id").annotate(n=Count("pk")).order_by()
        )
        for user in users:
            user.status, user.suspension_cause, user.status_reason, user.status_changed_at = target, cause, reason, now
        fields = ["status", "suspension_cause", "status_reason", "status_changed_at"]
        bulk_update_with_history(users, User, fields, default_user=acting_user, default_change_reason=reason)
        UserSession.objects.filter(user_id__in=ids).delete()
        AccountEvent.objects.bulk_create(
            AccountEvent(
                type=AccountEventType.USER_SUSPENDED,
                actor=acting_user,
                subject=user,
                reason=reason,
                data={
                    "from": Status.ACTIVE,
                    "to": target,
                    "cause": str(cause),
                    "sessions_ended": sessions.get(user.pk, 0),
                    **((data or {}).get(user.pk) or {}),
                },
            )
            for user in users
        )
        notify_many(
            kind="account_suspended",
            items=[(u, f"account_suspended:{u.pk}:{now.isoformat()}", {}) for u in users],
        )
    return len(users)
