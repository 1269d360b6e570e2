"""Lockouts around django-axes (SECURITY.md §Lockouts).

django-axes counts password failures (its backend) and, bridged by `login_failure_record`, OTP
failures too, per username and per (username, IP), and locks for PRAHARI_LOCKOUT_MINUTES. This
module adds what axes does not do: the hold after the third lock in 24 hours (lifted only by
`lockout_clear`), the per-IP refusal across usernames, events, supervisor notices, and the end of
every session of a locked account. The request-bound half (asking axes whether a username is
locked, counting a failure axes does not see by itself) is the login flow's: accounts/login/failures.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.models import ThrottlingMixin

from accounts.models import AccountEvent, AccountEventType, LoginHold, User
from accounts.permissions import ensure_may
from accounts.scoping import governors_of
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.reasons import clean_reason
from accounts.services.sessions import sessions_end

# The account with `open_hold_id` (its open LoginHold, or NULL): a LEFT JOIN on the one open hold a user can
# have (`one_open_hold_per_user`). Written out, as the two reads of every login: the ORM took longer to
# build this query than the database to answer it.
_ACCOUNT_WITH_HOLD = (
    "SELECT u.*, h.id AS open_hold_id FROM accounts_user u"
    " LEFT JOIN accounts_loginhold h ON h.user_id = u.id AND h.cleared_at IS NULL"
    " WHERE NOT u.is_system AND "
)


def _account_with_hold(condition: str, param) -> User | None:
    found = list(User.objects.raw(f"{_ACCOUNT_WITH_HOLD}{condition} LIMIT 1", [param]))
    return found[0] if found else None


def user_by_username(username: str | None) -> User | None:
    """The account named `username` in any letter case (never the system actor), with `open_hold_id`.

    Compared as the unique index `username_unique_ignoring_case` compares (lower case in the database),
    so the read is an index lookup, not a scan of every account.
    """
    return _account_with_hold("LOWER(u.username) = LOWER(%s)", username) if username else None


@dataclass(frozen=True)
class Door:
    """What the login gate asks at each step, read in one statement (`login_door`)."""

    user: User | None  # with `open_hold_id`
    username: str | None  # the name django-axes counts: the account's own, else the one typed
    failures: int  # django-axes' failures of `username` since `failures_since` (its lock check's count)
    ip_blocked: bool  # `ip` is refused across usernames (see `_ip_blocked`)


# The account (or none) with its open hold, django-axes' count of its name (the sum its database handler makes
# over attempts of that username since the cool-off threshold) and the recent failure times of the client
# address: every login step asks all of them before anything else, one round trip instead of three.
_DOOR = (
    "SELECT u.*, h.id AS open_hold_id,"
    " (SELECT COALESCE(SUM(a.failures_since_start), 0) FROM axes_accessattempt a"
    " WHERE a.username = COALESCE(u.username, %s) AND a.attempt_time >= %s) AS door_failures,"
    " ARRAY(SELECT f.attempt_time FROM axes_accessfailurelog f WHERE f.ip_address = %s::inet"
    " AND f.attempt_time >= %s ORDER BY f.attempt_time DESC LIMIT %s) AS door_ip_failures"
    " FROM (SELECT 1) AS door LEFT JOIN (accounts_user u"
    " LEFT JOIN accounts_loginhold h ON h.user_id = u.id AND h.cleared_at IS NULL)"
    " ON NOT u.is_system AND "
)


def login_door(
    *, username: str | None = None, pk: int | str | None = None, failures_since: datetime | None, ip: str | None = None
) -> Door:
    """The account named `username` (any letter case, as `user_by_username`) or numbered `pk`, never the
    system actor, with what bars it: django-axes' failures of its name since `failures_since` (none counted
    without it) and whether `ip` is blocked (`_ip_blocked`). One statement."""
    if pk is not None:
        try:
            condition, key = "u.id = %s", int(pk)
        except (TypeError, ValueError):
            return Door(user=None, username=None, failures=0, ip_blocked=False)
    else:
        condition, key = "LOWER(u.username) = LOWER(%s)", username or ""
    now = timezone.now()
    since, rows = _ip_window(now)
    sql = f"{_DOOR}{condition} LIMIT 1"
    (row,) = User.objects.raw(sql, [username, failures_since, ip, since if ip else None, rows, key])
    user = row if row.pk is not None else None
    return Door(
        user=user,
        username=user.username if user else username,
        failures=row.door_failures,
        ip_blocked=_ip_blocked(row.door_ip_failures, now),
    )


def _ip_window(now: datetime) -> tuple[datetime, int]:
    """Since when, and how many of the latest, failures from one address `_ip_blocked` needs."""
    window = timedelta(hours=1) + timedelta(minutes=settings.PRAHARI_IP_BLOCK_MINUTES)
    return now - window, settings.PRAHARI_IP_FAILURES_PER_HOUR * 20


def _ip_blocked(times: list[datetime], now: datetime) -> bool:
    """PRAHARI_IP_FAILURES_PER_HOUR failures (`times`, newest first) fell within one hour that ended less
    than PRAHARI_IP_BLOCK_MINUTES before `now`."""
    limit = settings.PRAHARI_IP_FAILURES_PER_HOUR
    block = timedelta(minutes=settings.PRAHARI_IP_BLOCK_MINUTES)
    for newest, oldest in zip(times, times[limit - 1 :], strict=False):
        if newest - oldest <= timedelta(hours=1) and now - newest <= block:
            return True
    return False


def login_is_held(user: User | None) -> bool:
    """An open LoginHold bars `user` (read from `open_hold_id` when `user_by_username` or `user_by_pk` gave it)."""
    if user is None:
        return False
    if hasattr(user, "open_hold_id"):
        return user.open_hold_id is not None
    return LoginHold.objects.filter(user=user, cleared_at__isnull=True).exists()


# --- Lock state: what the console shows ----------------------------------------------------------------


@dataclass(frozen=True)
class LockState:
    """Whether the door is shut for an account now, and why (SECURITY.md §Lockouts)."""

    failures: int  # the failures that count now: django-axes' sum over the cool-off
    locked_until: datetime | None  # when django-axes' lock ends by itself (None: no such lock)
    held_since: datetime | None  # an open LoginHold since then, which only an unlock lifts

    @property
    def locked(self) -> bool:
        return self.locked_until is not None or self.held_since is not None


def lock_state(user: User, *, now: datetime | None = None) -> LockState:
    """The lock of `user` as django-axes and the holds judge it now (two queries).

    Axes locks while the failures recorded within PRAHARI_LOCKOUT_MINUTES add up to the limit; the
    rows age out oldest first, so the lock ends when the newest rows that reach the limit have aged out.
    """
    now = now or timezone.now()
    cool_off = timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES)
    rows = AccessAttempt.objects.filter(username=user.username, attempt_time__gte=now - cool_off)
    counted, locked_until = 0, None
    for attempt_time, failures in rows.order_by("-attempt_time").values_list("attempt_time", "failures_since_start"):
        counted += failures
        if locked_until is None and counted >= settings.AXES_FAILURE_LIMIT:
            locked_until = attempt_time + cool_off
    hold = LoginHold.objects.filter(user=user, cleared_at__isnull=True).values_list("created_at", flat=True).first()
    return LockState(failures=counted, locked_until=locked_until, held_since=hold)


def locked_now_q(*, now: datetime | None = None) -> Q:
    """A condition on accounts: locked now, by django-axes (as `lock_state` judges) or by an open hold.

    For filters, counts and annotations of many accounts in one statement.
    """
    now = now or timezone.now()
    over_limit = (
        AccessAttempt.objects.filter(attempt_time__gte=now - timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES))
        .values("username")
        .annotate(counted=Sum("failures_since_start"))
        .filter(counted__gte=settings.AXES_FAILURE_LIMIT)
        .values("username")
    )
    held = LoginHold.objects.filter(user=OuterRef("pk"), cleared_at__isnull=True)
    return Q(username__in=over_limit) | Q(Exists(held))


def lock_columns(*, now: datetime | None = None) -> dict:
    """Annotations for a list of accounts, each row's lock in the same statement as the row.

    `locked_now`: the verdict of `locked_now_q`; `locked_until` and `held_since`: what `lock_state`
    answers for the row (when django-axes' lock ends by itself, since when an open hold bars it).
    """
    now = now or timezone.now()
    cool_off = timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES)
    # As lock_state: the newest rows first, the first whose running sum reaches the limit ends the lock.
    # Rows with the same time are summed together (RANGE frame): the same time either way.
    running = Window(Sum("failures_since_start"), order_by=F("attempt_time").desc())
    reaching = (
        AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=now - cool_off)
        .annotate(running=running)
        .filter(running__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-attempt_time")
        .values("attempt_time")[:1]
    )
    hold = LoginHold.objects.filter(user=OuterRef("pk"), cleared_at__isnull=True).values("created_at")[:1]
    return {
        "locked_now": ExpressionWrapper(locked_now_q(now=now), output_field=BooleanField()),
        "locked_until": ExpressionWrapper(Subquery(reaching) + Value(cool_off), output_field=DateTimeField()),
        "held_since": Subquery(hold),
    }


def login_failure_record(*, user: User | None, category: str, ip: str | None) -> None:
    """Record a failed sign-in step of `user` (None: an unknown username) as OTP_FAILED for a wrong code
    (`category` starting with "otp"), else LOGIN_FAILED. Counting it toward a lock is django-axes' part
    (accounts/login/failures.py)."""
    event_record(
        type=AccountEventType.OTP_FAILED if category.startswith("otp") else AccountEventType.LOGIN_FAILED,
        actor=None,
        subject=user,
        ip=ip,
        data={"category": category},
    )


def login_failures_reset(*, user: User, none_counted: bool = False) -> int:
    """A full login (password and code) wipes the failure count of `user` from every IP.

    `none_counted`: django-axes' lock check in this request counted no failure of `user`, so there
    is nothing that counts to wipe (expired attempts never count, and axes deletes them before it
    records a failure): no query. Otherwise one EXISTS usually answers, cheaper than the DELETE,
    which reads every row first (axes listens for their deletion).
    """
    if none_counted:
        return 0
    attempts = AccessAttempt.objects.filter(username__iexact=user.username)
    if not attempts.exists():
        return 0
    deleted, _ = attempts.delete()
    return deleted


def lockout_record(*, username: str | None, ip: str | None) -> None:
    """axes locked `username`: record it once per lock, end all their sessions, notify the governors, and
    open a LoginHold after the 3rd lock in 24 h.

    Records LOCKED_OUT (with how many sessions ended) and, at a hold, LOGIN_HELD.
    """
    user = user_by_username(username)
    if user is None:
        return  # unknown usernames: axes keeps the attempt; there is nobody to notify
    now = timezone.now()
    recent = AccountEvent.objects.filter(subject=user, type=AccountEventType.LOCKED_OUT)
    same_lock = recent.filter(created_at__gte=now - timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES))
    cleared = AccountEvent.objects.filter(subject=user, type=AccountEventType.LOCKOUT_CLEARED)
    last_clear = cleared.order_by("-pk").values_list("pk", flat=True).first()
    if last_clear is not None:
        same_lock = same_lock.filter(pk__gt=last_clear)  # an unlock ends a lock: a later one is new
    if same_lock.exists():
        return  # the same lock, signalled again by a later attempt
    with transaction.atomic():
        ended = sessions_end(users=[user.pk]).get(user.pk, 0)  # SECURITY.md §Sessions: a lock ends the sessions at once
        event = event_record(
            type=AccountEventType.LOCKED_OUT, actor=None, subject=user, ip=ip, data={"sessions_ended": ended}
        )
        window = now - timedelta(hours=settings.PRAHARI_LOCKOUT_HOLD_WINDOW_HOURS)
        locks = recent.filter(created_at__gte=window).count()
        kind = "lockout"
        if locks >= settings.PRAHARI_LOCKOUTS_BEFORE_HOLD and not login_is_held(user):
            try:
                with transaction.atomic():
                    LoginHold.objects.create(user=user, lockouts=locks)
            except IntegrityError:
                pass  # a concurrent lock already opened the hold
            event_record(type=AccountEventType.LOGIN_HELD, actor=None, subject=user, ip=ip, data={"locks": locks})
            kind = "login_held"
        governors = list(governors_of(user).order_by("username"))
        for governor in governors:
            notify(
                user=governor,
                kind=kind,
                idempotency_key=f"{kind}:{event.pk}:{governor.pk}",
                context={"username": user.username, "locks": locks},
            )
        _owner_notify(user=user, held=kind == "login_held", locks=locks, event=event, contact=governors[:1], now=now)


def _owner_notify(*, user: User, held: bool, locks: int, event, contact: list[User], now: datetime) -> None:
    """Tell the owner of a locked account, on their own phone, when to try again and whom to call.

    The login page says nothing of the lock (SECURITY.md §Lockouts: no oracle); the owner's own number
    is where a lock may be explained. `contact`: the first governor (none: "your supervisor").
    """
    person = contact[0] if contact else None
    context = {
        "name": (person.get_full_name() or person.username) if person else "",
        "mobile": getattr(person, "mobile", ""),
    }
    if held:
        kind, context = "account_held", {**context, "locks": locks, "hours": settings.PRAHARI_LOCKOUT_HOLD_WINDOW_HOURS}
    else:
        until = lock_state(user, now=now).locked_until or now + timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES)
        kind, context = "account_locked", {**context, "until": until.isoformat()}
    notify(user=user, kind=kind, idempotency_key=f"{kind}:{event.pk}:owner", context=context)


@transaction.atomic
def lockout_clear(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> int:
    """Lift axes' lock, any hold and the back-off of their codes on `user`, as their governor (never oneself).

    Records LOCKOUT_CLEARED. Returns how many axes attempt records were removed. Raises NotPermitted or DomainError.
    """
    reason = clean_reason(reason)
    user = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
    ensure_may(acting_user, user, "unlock_user")
    removed = axes_reset(username=user.username)
    holds = LoginHold.objects.filter(user=user, cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=acting_user, clear_reason=reason
    )
    for device in devices_for_user(user, confirmed=None):  # the codes' own back-off would outlast the unlock
        if isinstance(device, ThrottlingMixin) and device.throttling_failure_count:
            device.throttle_reset()
    event_record(
        type=AccountEventType.LOCKOUT_CLEARED,
        actor=acting_user,
        subject=user,
        reason=reason,
        ip=ip,
        data={"attempts_removed": removed, "holds_cleared": holds},
    )
    return removed
