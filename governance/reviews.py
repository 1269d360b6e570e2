"""Access review (re-verification), the governor's side: the account's use in the period, and the decisions.

A governor reviews an account's actual use in the open period (from `review_period_start`, `review_usage`)
and attests or revokes; each decision is an AccessReview (governance/models.py).
Attesting moves the due date and asks the owner to re-confirm at their next login
(accounts/services/reviews.py); revoking suspends. Reminders go out 14, 7 and 1 days before the due
date; overdue accounts are suspended by the `reverification` job (`reviews_overdue_suspend`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import ExtractHour
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from accounts.exceptions import IllegalTransition
from accounts.models import (
    AccountEvent,
    AccountEventType,
    Alert,
    RegisteredDevice,
    Status,
    SuspensionCause,
    User,
)
from accounts.permissions import ensure_may
from accounts.scoping import governable_users
from accounts.services.events import event_record
from accounts.services.lifecycle import user_suspend, users_suspend_matching
from accounts.services.notifications import notify_many
from accounts.services.reasons import clean_reason
from accounts.services.reviews import review_due_from, review_lock
from accounts.services.system import system_user
from governance.models import AccessReview
from records.models import AccessEvent

DUE_SOON_DAYS = 14  # the console's "due soon": the first reminder's horizon


def night_hours_q(hour_field: str) -> Q:
    """The local hours the `night_views` rule counts as night (PRAHARI_ANOMALY_NIGHT_START_HOUR to _END_HOUR),
    as a condition on `hour_field`: the reviewer's off-hours share counts the same hours as the rule."""
    start, end = settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, settings.PRAHARI_ANOMALY_NIGHT_END_HOUR
    if start > end:  # across midnight, as by default (22:00 to 06:00)
        return Q(**{f"{hour_field}__gte": start}) | Q(**{f"{hour_field}__lt": end})
    return Q(**{f"{hour_field}__gte": start, f"{hour_field}__lt": end})


def reviews_due_soon(users, *, now: datetime | None = None):
    """The active accounts among `users` whose re-verification falls due within DUE_SOON_DAYS (not yet overdue)."""
    now = now or timezone.now()
    return users.filter(
        status=Status.ACTIVE, review_due_at__gt=now, review_due_at__lte=now + timedelta(days=DUE_SOON_DAYS)
    )


def reviews_overdue(users, *, now: datetime | None = None):
    """The accounts among `users` still in use (active or suspended) whose re-verification date has passed."""
    now = now or timezone.now()
    return users.filter(status__in=[Status.ACTIVE, Status.SUSPENDED], review_due_at__lte=now)


def review_period_start(user: User) -> datetime:
    """Where the open review period of `user` begins: the end of the last review, else approval, else joining."""
    last = AccessReview.objects.filter(user=user).order_by("-period_end").values_list("period_end", flat=True)
    if last_end := last.first():
        return last_end
    approvals = AccountEvent.objects.filter(subject=user, type=AccountEventType.USER_APPROVED)
    approved_at = approvals.order_by("-created_at").values_list("created_at", flat=True).first()
    return approved_at or user.date_joined


def review_usage(*, user: User, start: datetime, end: datetime) -> dict:
    """What `user` actually did from `start` (inclusive) to `end` (exclusive), for the reviewer; JSON-ready.

    Four queries whatever the volume: logins and failures (AccountEvent), record views and reveals
    allowed (AccessEvent, with the share of views between 22:00 and 06:00 Asia/Kolkata), alerts
    raised about the account in the period, and the devices approved now.
    """

    logins = Q(type=AccountEventType.LOGIN_SUCCEEDED)
    events = AccountEvent.objects.filter(subject=user, created_at__gte=start, created_at__lt=end).aggregate(
        logins=Count("pk", filter=logins),
        last_login=Max("created_at", filter=logins),
        failed_logins=Count("pk", filter=Q(type__in=[AccountEventType.LOGIN_FAILED, AccountEventType.OTP_FAILED])),
    )
    view = Q(action=AccessEvent.Action.VIEW, outcome=AccessEvent.Outcome.ALLOWED)
    off_hours = night_hours_q("local_hour")
    access = (
        AccessEvent.objects.filter(actor=user, created_at__gte=start, created_at__lt=end)
        .annotate(local_hour=ExtractHour("created_at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .aggregate(
            record_views=Count("pk", filter=view),
            records_viewed=Count("beneficiary", filter=view, distinct=True),
            off_hours_views=Count("pk", filter=view & off_hours),
            reveals=Count("pk", filter=Q(action=AccessEvent.Action.REVEAL, outcome=AccessEvent.Outcome.ALLOWED)),
            out_of_scope=Count("pk", filter=Q(outcome=AccessEvent.Outcome.OUT_OF_SCOPE)),
        )
    )
    alerts = Alert.objects.filter(subject=user, created_at__gte=start, created_at__lt=end).count()
    devices = RegisteredDevice.objects.filter(user=user, status=RegisteredDevice.Status.APPROVED).count()
    views = access["record_views"]
    return {
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "last_login": events["last_login"].isoformat() if events["last_login"] else None,
        "logins": events["logins"],
        "failed_logins": events["failed_logins"],
        **access,
        "off_hours_share": round(access["off_hours_views"] / views, 3) if views else 0.0,
        "alerts": alerts,
        "approved_devices": devices,
    }


def _review_record(user: User, *, acting_user: User, decision: str, reason: str, now: datetime) -> AccessReview:
    start = review_period_start(user)
    usage = review_usage(user=user, start=start, end=now)
    return AccessReview.objects.create(
        user=user,
        reviewer=acting_user,
        decision=decision,
        reason=reason,
        period_start=start,
        period_end=now,
        usage=usage,
        created_at=now,
    )


@transaction.atomic
def review_attest(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> AccessReview:
    """Attest that an active account still needs its access: start the next review period.

    Stores an AccessReview with the period's usage; moves `review_due_at` one period on from now,
    asks the owner to re-confirm at their next login (`reconfirm_pending`) and re-arms the reminders.
    Records history (actor, reason) and REVIEW_ATTESTED. Raises NotPermitted (role, jurisdiction,
    oneself) or IllegalTransition (not active).
    """
    reason = clean_reason(reason)
    locked = review_lock(user)
    ensure_may(acting_user, locked, "attest_user")
    if locked.status != Status.ACTIVE:
        raise IllegalTransition(
            _("Only an active account can be attested: this one is %(status)s.")
            % {"status": locked.get_status_display().lower()}
        )
    now = timezone.now()
    review = _review_record(
        locked, acting_user=acting_user, decision=AccessReview.Decision.ATTEST, reason=reason, now=now
    )
    previous_due = locked.review_due_at
    locked.review_due_at = review_due_from(locked, now)
    locked.reconfirm_pending = True
    locked.review_reminder_days = None
    locked._history_user = acting_user
    locked._change_reason = reason
    locked.save(update_fields=["review_due_at", "reconfirm_pending", "review_reminder_days"])
    event_record(
        type=AccountEventType.REVIEW_ATTESTED,
        actor=acting_user,
        subject=locked,
        reason=reason,
        ip=ip,
        data={
            "review": review.pk,
            "due_before": previous_due.isoformat() if previous_due else None,
            "due": locked.review_due_at.isoformat(),
        },
    )
    return review


@transaction.atomic
def review_revoke(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> AccessReview:
    """Decide at review that an account no longer needs its access.

    Stores an AccessReview with the period's usage and records REVIEW_REVOKED. An active account is
    suspended (cause review_revoked, through `user_suspend`: sessions ended, owner notified); a
    suspended one stays suspended under its cause (an anomaly or canary cause must keep needing a
    state administrator to reinstate). Raises NotPermitted or IllegalTransition (neither active nor
    suspended).
    """
    reason = clean_reason(reason)
    locked = review_lock(user)
    ensure_may(acting_user, locked, "attest_user")
    if locked.status not in (Status.ACTIVE, Status.SUSPENDED):
        raise IllegalTransition(
            _("Only an active or suspended account can be reviewed: this one is %(status)s.")
            % {"status": locked.get_status_display().lower()}
        )
    now = timezone.now()
    review = _review_record(
        locked, acting_user=acting_user, decision=AccessReview.Decision.REVOKE, reason=reason, now=now
    )
    was_active = locked.status == Status.ACTIVE
    if was_active:
        user_suspend(user=locked, acting_user=acting_user, reason=reason, cause=SuspensionCause.REVIEW_REVOKED, ip=ip)
    event_record(
        type=AccountEventType.REVIEW_REVOKED,
        actor=acting_user,
        subject=locked,
        reason=reason,
        ip=ip,
        data={"review": review.pk, "suspended": was_active},
    )
    return review


# --- Re-confirmation by the account's owner -----------------------------------------------------------


# --- Governance jobs (called by the `reverification` job; no Celery here) ------------------------------

JOB_BATCH = 500
OVERDUE_REASON = "Re-verification overdue: no review attested this account's access by its due date."


def _local_date(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date().isoformat()


def _reminder_bands(now: datetime) -> list[tuple[int, datetime, datetime]]:
    """(days, after, until): an account due in (after, until] is at the `days` reminder (e.g. 7: due in 1–7 days)."""
    bands, after = [], now
    for days in sorted(set(settings.PRAHARI_REVERIFY_REMINDER_DAYS)):
        until = now + timedelta(days=days)
        bands.append((days, after, until))
        after = until
    return bands


def _reminders_due(now: datetime, system: User):
    """Active accounts at a reminder threshold they have not been reminded at yet (one query per batch)."""
    bands = _reminder_bands(now)
    if not bands:
        return User.objects.none()
    due = Q()
    for days, after, until in bands:
        not_yet = Q(review_reminder_days__isnull=True) | Q(review_reminder_days__gt=days)
        due |= Q(review_due_at__gt=after, review_due_at__lte=until) & not_yet
    return governable_users(system).filter(due, status=Status.ACTIVE).select_for_update(of=("self",)).order_by("pk")


def review_reminders_send(*, now: datetime | None = None) -> list[User]:
    """Remind each active account due within 14, 7 or 1 days (PRAHARI_REVERIFY_REMINDER_DAYS).

    One reminder per threshold and due date, never twice: `review_reminder_days` keeps the last
    threshold sent (history by the system actor) and each message has an idempotency key. An account
    that jumps a threshold (the job did not run) gets only the current one. Records REVIEW_REMINDED.
    Set-based: per batch, one selection, one update with history, one insert of events, and the
    outbox rows. Returns the accounts reminded (the reverification job tells their governors in one
    digest each, never one message per account).
    """
    now = now or timezone.now()
    system = system_user()
    reminded: list[User] = []
    while True:
        with transaction.atomic():
            batch = list(_reminders_due(now, system)[:JOB_BATCH])
            if not batch:
                break
            reminded += _remind(batch, now=now, system=system)
        if len(batch) < JOB_BATCH:
            break
    return reminded


def _remind(users: list[User], *, now: datetime, system: User) -> list[User]:
    bands = _reminder_bands(now)
    for user in users:
        user.review_reminder_days = next(d for d, after, until in bands if after < user.review_due_at <= until)
        user._change_reason = f"re-verification reminder, {user.review_reminder_days} days before"
    bulk_update_with_history(users, User, ["review_reminder_days"], default_user=system)
    AccountEvent.objects.bulk_create(
        AccountEvent(
            type=AccountEventType.REVIEW_REMINDED,
            actor=system,
            subject=user,
            data={"days": user.review_reminder_days, "due": user.review_due_at.isoformat()},
        )
        for user in users
    )
    notify_many(
        {
            "user": user,
            "kind": "review_due",
            "idempotency_key": f"review_due:{user.pk}:{user.review_due_at:%Y%m%d%H%M%S}:{user.review_reminder_days}",
            "context": {"date": _local_date(user.review_due_at)},
        }
        for user in users
    )
    return users


def reviews_overdue_suspend(*, now: datetime | None = None) -> int:
    """Suspend every active account whose re-verification is overdue (`review_due_at` passed), as the system actor.

    Returns how many were suspended; see `reviews_overdue_suspend_ids`.
    """
    return len(reviews_overdue_suspend_ids(now=now))


def reviews_overdue_suspend_ids(*, now: datetime | None = None) -> list[int]:
    """Suspend every active account whose re-verification is overdue; return their ids.

    Cause reverification_overdue; history, USER_SUSPENDED (with the due date), sessions ended and
    owners notified, through `users_suspend_matching`: one statement, never a number of queries that
    grows with the accounts.
    Idempotent: a suspended account is not selected again.
    """
    now = now or timezone.now()
    system = system_user()
    return users_suspend_matching(
        governable_users(system).filter(review_due_at__lte=now),
        acting_user=system,
        reason=OVERDUE_REASON,
        cause=SuspensionCause.REVERIFICATION_OVERDUE,
        event_dates={"due": "review_due_at"},
    )
