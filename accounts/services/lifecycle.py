"""The account lifecycle of ARCHITECTURE.md §3: one service function per state change.

Each service is keyword-only with `acting_user` and `reason`; in one transaction it locks the row,
checks the transition and the actor's right, saves with history (actor and reason), appends an
AccountEvent, and ends the user's sessions where access shrinks. Any refusal raises a DomainError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_update_with_history

from accounts.exceptions import DomainError, IllegalTransition
from accounts.models import AccountEvent, AccountEventType, Status, SuspensionCause, User
from accounts.permissions import ensure_may, reinstate_codename
from accounts.services.devices import devices_revoke_all
from accounts.services.events import event_record
from accounts.services.notifications import enqueue_after_commit, notify_many, outbox_insert_sql
from accounts.services.reasons import clean_reason
from accounts.services.sessions import sessions_end, sessions_end_sql
from accounts.services.setsql import ids_list, isoformat_sql, own_table_where, queryset_sql

# The whole state machine, in one table: transition → (statuses it may start from, status it ends in).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "enrol": (frozenset({Status.INVITED}), Status.PENDING_APPROVAL),
    "approve": (frozenset({Status.PENDING_APPROVAL}), Status.ACTIVE),
    "reject": (frozenset({Status.PENDING_APPROVAL}), Status.REJECTED),
    "expire": (frozenset({Status.INVITED}), Status.EXPIRED),
    "suspend": (frozenset({Status.ACTIVE}), Status.SUSPENDED),
    "reinstate": (frozenset({Status.SUSPENDED}), Status.ACTIVE),
    "deactivate": (
        frozenset({Status.INVITED, Status.PENDING_APPROVAL, Status.ACTIVE, Status.SUSPENDED}),
        Status.DEACTIVATED,
    ),
}
_TRANSITION_PAST = {
    "enrol": gettext_lazy("enrolled"),
    "approve": gettext_lazy("approved"),
    "reject": gettext_lazy("rejected"),
    "expire": gettext_lazy("expired"),
    "suspend": gettext_lazy("suspended"),
    "reinstate": gettext_lazy("reinstated"),
    "deactivate": gettext_lazy("deactivated"),
}


def user_lock(user: User) -> User:
    """Lock the account row (and load its facility and district) for a state change in this transaction."""
    return User.objects.select_for_update(of=("self",)).select_related("facility__district").get(pk=user.pk)


def _check_transition(user: User, transition: str) -> str:
    sources, target = TRANSITIONS[transition]
    if user.status not in sources:
        raise IllegalTransition(
            _("This account cannot be %(action)s: it is %(status)s.")
            % {"action": _TRANSITION_PAST[transition], "status": user.get_status_display().lower()}
        )
    return target


def status_transition(
    user: User,
    *,
    transition: str,
    acting_user: User,
    reason: str,
    event: AccountEventType,
    cause: str = "",
    ip: str | None = None,
    end_sessions: bool = False,
    extra_fields: dict | None = None,
    now=None,
) -> User:
    """Move the locked `user` along `transition`: save with history, end sessions if asked, record the event."""
    return status_transition_many(
        [user],
        transition=transition,
        acting_user=acting_user,
        reason=reason,
        event=event,
        cause=cause,
        ip=ip,
        end_sessions=end_sessions,
        extra_fields=extra_fields,
        now=now,
    )[0]


def status_transition_many(
    users: list[User],
    *,
    transition: str,
    acting_user: User,
    reason: str,
    event: AccountEventType,
    cause: str = "",
    ip: str | None = None,
    end_sessions: bool = False,
    extra_fields: dict | None = None,
    now=None,
    event_data: dict[int, dict] | None = None,
) -> list[User]:
    """`status_transition` for many locked accounts in a fixed number of statements (the governance jobs).

    Raises IllegalTransition (and changes nothing) if any account may not take the transition.
    """
    if not users:
        return []
    now = now or timezone.now()
    previous = {u.pk: u.status for u in users}
    fields = ["status", "suspension_cause", "status_reason", "status_changed_at", *(extra_fields or {})]
    for user in users:
        user.status = _check_transition(user, transition)
        user.suspension_cause, user.status_reason, user.status_changed_at = cause, reason, now
        for name, value in (extra_fields or {}).items():
            setattr(user, name, value)
        user._history_user, user._change_reason = acting_user, reason
    bulk_update_with_history(
        users, User, fields, batch_size=1000, default_user=acting_user, default_change_reason=reason, default_date=now
    )
    ended = sessions_end(users=[u.pk for u in users]) if end_sessions else {}
    events = []
    for user in users:
        data = {"from": previous[user.pk], "to": user.status}
        if cause:
            data["cause"] = cause
        if end_sessions:
            data["sessions_ended"] = ended.get(user.pk, 0)
        data.update((event_data or {}).get(user.pk, {}))
        events.append(
            AccountEvent(type=event, actor=acting_user, subject=user, reason=reason, ip_address=ip or None, data=data)
        )
    AccountEvent.objects.bulk_create(events, batch_size=1000)
    return users


@transaction.atomic
def user_suspend(
    *,
    user: User,
    acting_user: User,
    reason: str,
    cause: SuspensionCause = SuspensionCause.MANUAL,
    ip: str | None = None,
) -> User:
    """Suspend an active account for `cause`; end all its sessions; tell its owner (account_suspended).

    Records history and USER_SUSPENDED.

    Raises NotPermitted (role, jurisdiction, self) or IllegalTransition (not active).
    """
    reason = clean_reason(reason)
    if cause not in SuspensionCause.values:
        raise DomainError(_("Unknown suspension cause: %(cause)s.") % {"cause": cause})
    locked = user_lock(user)
    ensure_may(acting_user, locked, "suspend_user")
    return users_suspend_many([locked], acting_user=acting_user, reason=reason, cause=SuspensionCause(cause), ip=ip)[0]


def users_suspend_many(
    users: list[User],
    *,
    acting_user: User,
    reason: str,
    cause: SuspensionCause,
    ip: str | None = None,
    now=None,
    event_data: dict[int, dict] | None = None,
) -> list[User]:
    """Suspend locked active accounts for `cause`: history, USER_SUSPENDED (plus `event_data[pk]`), every
    session ended, each owner told (account_suspended), in a fixed number of statements.

    The caller checked the right to act (user_suspend) or is the system actor (the governance jobs).
    Raises IllegalTransition, changing nothing, if an account is not active.
    """
    users = status_transition_many(
        users,
        transition="suspend",
        acting_user=acting_user,
        reason=reason,
        cause=cause,
        event=AccountEventType.USER_SUSPENDED,
        ip=ip,
        end_sessions=True,
        now=now,
        event_data=event_data,
    )
    notify_many(
        {
            "user": u,
            "kind": "account_suspended",
            "idempotency_key": f"account_suspended:{u.pk}:{u.status_changed_at.isoformat()}",
            "context": {},
        }
        for u in users
    )
    return users


@transaction.atomic
def users_suspend_matching(
    users: QuerySet[User],
    *,
    acting_user: User,
    reason: str,
    cause: SuspensionCause,
    now=None,
    event_dates: Mapping[str, str] | None = None,
) -> list[int]:
    """Suspend every active account that `users` selects, as `users_suspend_many` does (history, the
    USER_SUSPENDED event, sessions ended, owners told), in one statement whatever their number, and
    return their ids in ascending order.

    `event_dates` adds {key: the account's datetime field `value`, in ISO format} to each event. For the
    system actor (the jobs).
    """
    now = now or timezone.now()
    selected = users.filter(status=Status.ACTIVE).select_for_update(of=("self",)).order_by("pk")
    if selected.query.is_empty():
        return []
    return _suspend_set_based(
        selected, acting_user=acting_user, reason=reason, cause=cause, now=now, event_dates=event_dates or {}
    )


def _suspend_set_based(
    selected: QuerySet[User], *, acting_user: User, reason: str, cause: str, now, event_dates: Mapping[str, str]
) -> list[int]:
    """`users_suspend_many` for the accounts `selected` locks, in one statement of chained
    data-modifying CTEs: the UPDATE … RETURNING (`changed`) feeds the history rows, the session
    deletion, the events (with the sessions ended) and the outbox rows, so the accounts are read once.
    Rows are written in no particular order (sorting them cost more than anything reads from it)."""
    parts = [_suspend_update_sql(selected, cause=cause, reason=reason, now=now, also=event_dates.values())]
    if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        parts.append(_history_insert_sql(acting_user=acting_user, reason=reason, now=now))
    parts.append(_suspend_events_sql(acting_user=acting_user, reason=reason, cause=cause, event_dates=event_dates))
    outbox, outbox_params = outbox_insert_sql(
        "changed",
        kind="account_suspended",
        key_sql="'account_suspended:' || src.id || ':' || %s",
        key_params=[now.isoformat()],
        context={},
    )
    parts.append((f"outbox AS ({outbox})", outbox_params))
    sql = "WITH " + "\n, ".join(part for part, _params in parts)
    sql += "\nSELECT array_to_string(ARRAY(SELECT id FROM changed ORDER BY id), ','),"
    sql += " array_to_string(ARRAY(SELECT id FROM outbox ORDER BY id), ',')"
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _part, params in parts for param in params])
        suspended, notifications = cursor.fetchone()
    enqueue_after_commit(ids_list(notifications))
    return ids_list(suspended)


def _suspend_update_sql(selected: QuerySet[User], *, cause: str, reason: str, now, also) -> tuple[str, list]:
    """The `changed` CTE: the UPDATE … RETURNING of the accounts (their tracked columns and `also`)."""
    columns = [f.column for f in User.history.model.tracked_fields]
    columns += [c for c in ("id", "mobile", "email", "preferred_language", *also) if c not in columns]
    assignments = "SET status = %s, suspension_cause = %s, status_reason = %s, status_changed_at = %s"
    values = [Status.SUSPENDED, cause, reason, now]
    where = own_table_where(selected)
    if where:
        # One UPDATE … WHERE: it locks each row and re-checks the condition on its latest version itself.
        returning = ", ".join(f"accounts_user.{c}" for c in columns)
        return f"changed AS (UPDATE accounts_user {assignments} WHERE {where[0]} RETURNING {returning})", [
            *values,
            *where[1],
        ]
    # A selection across tables: lock the accounts first (FOR UPDATE re-checks the whole selection).
    select, params = queryset_sql(selected.values_list("pk"))
    returning = ", ".join(f"u.{c}" for c in columns)
    sql = f"""picked (id) AS ({select}),
        changed AS (UPDATE accounts_user AS u {assignments} FROM picked WHERE u.id = picked.id RETURNING {returning})"""
    return sql, [*params, *values]


def _history_insert_sql(*, acting_user: User, reason: str, now) -> tuple[str, list]:
    """What bulk_update_with_history writes for each changed account: every tracked column, '~', the
    date, the actor and the reason."""
    history = User.history.model
    tracked = [f.column for f in history.tracked_fields]
    sql = f"""history AS (INSERT INTO {history._meta.db_table}
        ({", ".join(tracked)}, history_date, history_change_reason, history_type, history_user_id)
        SELECT {", ".join(f"changed.{c}" for c in tracked)}, %s, %s, '~', %s FROM changed)"""  # noqa: S608 (columns)
    return sql, [now, reason, acting_user.pk]


def _suspend_events_sql(
    *, acting_user: User, reason: str, cause: str, event_dates: Mapping[str, str]
) -> tuple[str, list]:
    """`ended` (the sessions deleted) and `events`: USER_SUSPENDED with from, to, cause, sessions
    ended and `event_dates` in ISO format, as status_transition_many records it."""
    data = {"from": Status.ACTIVE.value, "to": Status.SUSPENDED.value, "cause": str(cause)}
    extra = "".join(f" || jsonb_build_object(%s::text, {isoformat_sql(f'changed.{f}')})" for f in event_dates.values())
    # Two constants, and a small object only where sessions ended: cheaper than building each row's.
    sql = f"""ended AS ({sessions_end_sql(where="s.user_id IN (SELECT id FROM changed)")}),
        events AS (
            INSERT INTO accounts_accountevent (type, actor_id, subject_id, reason, ip_address, data, created_at)
            SELECT %s, %s, changed.id, %s, NULL,
                CASE WHEN ended.n IS NULL THEN %s::jsonb
                ELSE %s::jsonb || jsonb_build_object('sessions_ended', ended.n) END{extra}, %s
            FROM changed
            LEFT JOIN (SELECT user_id, count(*) AS n FROM ended GROUP BY user_id) AS ended ON ended.user_id = changed.id
        )"""  # noqa: S608 (the text added is isoformat_sql's of model columns)
    params = [int(AccountEventType.USER_SUSPENDED), acting_user.pk, reason]
    params += [json.dumps({**data, "sessions_ended": 0}), json.dumps(data), *event_dates]
    return sql, [*params, timezone.now()]  # created_at: auto_now_add, as bulk_create stamps it


@transaction.atomic
def user_reinstate(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> User:
    """Return a suspended account to active. Records history and USER_REINSTATED.

    An account suspended for an anomaly or a canary is reinstated only by a state administrator.
    Raises NotPermitted or IllegalTransition (not suspended).
    """
    reason = clean_reason(reason)
    locked = user_lock(user)
    ensure_may(acting_user, locked, reinstate_codename(locked))
    return status_transition(
        locked,
        transition="reinstate",
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.USER_REINSTATED,
        ip=ip,
    )


@transaction.atomic
def user_deactivate(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> User:
    """Offboard an account for good: status deactivated, login refused, sessions ended, devices revoked,
    one-time-code devices removed; the username stays taken.

    Records history, USER_DEACTIVATED, DEVICE_REVOKED and OTP_DEVICE_REMOVED. Raises NotPermitted or
    IllegalTransition (already terminal).
    """
    from django_otp import devices_for_user

    reason = clean_reason(reason)
    locked = user_lock(user)
    ensure_may(acting_user, locked, "deactivate_user")
    devices_revoke_all(user=locked, acting_user=acting_user, reason=reason, ip=ip)
    otp_devices = list(devices_for_user(locked, confirmed=None))
    for otp_device in otp_devices:
        otp_device.delete()
    if otp_devices:
        event_record(
            type=AccountEventType.OTP_DEVICE_REMOVED,
            actor=acting_user,
            subject=locked,
            reason=reason,
            ip=ip,
            data={"methods": sorted({type(d).__name__ for d in otp_devices})},
        )
    return status_transition(
        locked,
        transition="deactivate",
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.USER_DEACTIVATED,
        ip=ip,
        end_sessions=True,
        extra_fields={"is_active": False},
    )
