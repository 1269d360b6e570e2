"""Ending sessions. Every session is a UserSession row with its owner and device; `sessions_end` is the
one statement that deletes live sessions, and `sessions_end_sql` its text for a caller's own statement
(the set-based suspension deletes the sessions of the accounts its UPDATE returned)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountEventType, User, UserSession
from accounts.permissions import ensure, ensure_may
from accounts.services.events import event_record
from accounts.services.reasons import clean_reason

TABLE = UserSession._meta.db_table


def sessions_end_sql(*, where: str) -> str:
    """The DELETE of the sessions matching `where` (over `s`), returning each deleted row's owner."""
    return f"DELETE FROM {TABLE} AS s WHERE {where} RETURNING s.user_id"  # noqa: S608 (the caller's condition)


def sessions_end(
    *,
    users: Iterable[int] = (),
    devices: Iterable[int] = (),
    keys: Iterable[str] = (),
    keep_key: str | None = None,
    passkeys: Iterable[int] = (),
) -> dict[int, int]:
    """Delete, in one statement, every session of the accounts `users`, every session opened on the
    devices `devices` or with the passkeys `passkeys`, and the sessions named in `keys`, except the session
    `keep_key`; the next request on any of them is anonymous. Return {owner id: sessions ended} for the
    owners that had any.

    Called inside the transaction of the service whose change shrinks the access (it records the
    count in its event), or by the session engine for its own key.
    """
    users, devices, keys, passkeys = list(users), list(devices), list(keys), list(passkeys)
    if not (users or devices or keys or passkeys):
        return {}
    matched = "s.user_id = ANY(%s::bigint[]) OR s.device_id = ANY(%s::bigint[]) OR s.session_key = ANY(%s::text[])"
    params = [users, devices, keys]
    if passkeys:  # its own condition only when asked: the statements of the other callers stay as they were
        matched += " OR s.passkey_id = ANY(%s::bigint[])"
        params.append(passkeys)
    sql = sessions_end_sql(where=f"({matched}) AND s.session_key <> %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, keep_key or ""])
        owners = Counter(owner for (owner,) in cursor.fetchall() if owner is not None)
    return dict(owners)


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
            sessions_end(keys=[row.session_key])
            event_record(
                type=AccountEventType.SESSIONS_ENDED,
                actor=user,
                subject=user,
                ip=ip,
                data={"reason": "ended_by_owner"},
            )
            return True
    return False


@transaction.atomic
def user_sessions_end(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> int:
    """End every session of `user` at once, as `acting_user` (a governor with the right to suspend them, never
    themselves): the account stays as it is, its owner signs in again. Records SESSIONS_ENDED with the reason
    and the count; return the count (0 when there was none: still recorded, the decision was taken).

    Raises NotPermitted (role, jurisdiction, self) or DomainError (no reason)."""
    reason = clean_reason(reason)
    ensure_may(acting_user, user, "end_sessions")
    ended = sessions_end(users=[user.pk]).get(user.pk, 0)
    event_record(
        type=AccountEventType.SESSIONS_ENDED,
        actor=acting_user,
        subject=user,
        reason=reason,
        ip=ip,
        data={"reason": "ended_by_governor", "sessions_ended": ended},
    )
    return ended


@transaction.atomic
def sessions_end_everyone(*, acting_user: User, reason: str) -> int:
    """End every session of every account (an operations command's emergency step, as the system actor): one
    statement, one SESSIONS_ENDED event without a subject that holds the reason and the counts."""
    reason = clean_reason(reason)
    ensure(acting_user is not None and acting_user.is_system, _("Only the system actor ends everyone's sessions."))
    with connection.cursor() as cursor:
        cursor.execute(sessions_end_sql(where="TRUE"))
        owners = Counter(owner for (owner,) in cursor.fetchall() if owner is not None)
    ended = sum(owners.values())
    event_record(
        type=AccountEventType.SESSIONS_ENDED,
        actor=acting_user,
        subject=None,
        reason=reason,
        data={"reason": "ended_for_everyone", "sessions_ended": ended, "accounts": len(owners)},
    )
    return ended
