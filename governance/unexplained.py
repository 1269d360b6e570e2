"""Unexplained look-ups for people: each worker's explained share, the supervisor's review queue, and the two
decisions it offers (issue 16, item 4).

A look-up is a record opened (an allowed view or reveal); it is judged once the `explain` job has read past it
(governance/explain.py `judged_up_to`), and unexplained when judged without an AccessExplanation. A supervisor
who knows the look-up was real work accepts it with a reason, which becomes its explanation (kind `review`,
naming them); one who does not raises an `unexplained_views` alert about the worker. Both need the right to
decide alerts about that worker (`decide_alert`), never about oneself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError
from accounts.models import Alert, Role, User
from accounts.permissions import ensure_may
from accounts.scoping import governable_users
from accounts.services.alerts import alert_raise
from accounts.services.reasons import clean_reason
from governance.explain import judged_up_to
from governance.rules.base import LOOKED
from records.models import AccessEvent, AccessExplanation

EVENTS, EXPLANATIONS = AccessEvent._meta.db_table, AccessExplanation._meta.db_table
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Share:
    """A worker's judged look-ups and how many of them are explained, today and over the last seven days."""

    day_looked: int = 0
    day_explained: int = 0
    week_looked: int = 0
    week_explained: int = 0

    @staticmethod
    def _percent(explained: int, looked: int) -> int | None:
        return None if looked == 0 else round(100 * explained / looked)

    @property
    def day_percent(self) -> int | None:
        return self._percent(self.day_explained, self.day_looked)

    @property
    def week_percent(self) -> int | None:
        return self._percent(self.week_explained, self.week_looked)

    @property
    def week_unexplained(self) -> int:
        return self.week_looked - self.week_explained


def _day_start(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def explained_shares(actor_ids, *, now: datetime | None = None, judged: int | None = None) -> dict[int, Share]:
    """{worker id: Share} for `actor_ids` (two queries, one given `judged`, the `explain` job's watermark); a
    worker without judged look-ups gets an empty Share."""
    ids = [int(pk) for pk in actor_ids]
    if not ids:
        return {}
    now = now or timezone.now()
    sql = f"""
        SELECT e.actor_id,
               COUNT(*) FILTER (WHERE e.created_at >= %(day)s),
               COUNT(x.event_id) FILTER (WHERE e.created_at >= %(day)s),
               COUNT(*), COUNT(x.event_id)
          FROM {EVENTS} e LEFT JOIN {EXPLANATIONS} x ON x.event_id = e.id
         WHERE e.actor_id = ANY(%(ids)s) AND e.created_at >= %(week)s AND e.created_at <= %(now)s
           AND e.id <= %(judged)s AND e.{LOOKED}
         GROUP BY e.actor_id
    """
    params = {"ids": ids, "day": _day_start(now), "week": now - WEEK, "now": now}
    params["judged"] = judged_up_to() if judged is None else judged
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0]: Share(*row[1:]) for row in cursor.fetchall()}
    return {pk: found.get(pk, Share()) for pk in ids}


@dataclass(frozen=True)
class Unexplained:
    """One line of the review queue."""

    event_id: int
    at: datetime
    action: str
    purpose: str
    reference_id: str
    worker: User
    worker_unexplained: int  # the worker's unexplained look-ups of the week, the queue's first ranking key
    worker_percent: int | None  # the worker's explained share of the week


def review_queue(*, acting_user: User, now: datetime | None = None, limit: int = 100) -> list[Unexplained]:
    """The unexplained look-ups of the last seven days by the workers `acting_user` governs, those of the
    workers with the most unexplained (and the lowest explained share) first, newest first within a worker.
    Three queries whatever the number of look-ups."""
    now = now or timezone.now()
    workers, judged = governable_users(acting_user).filter(role=Role.WORKER), judged_up_to()
    unexplained = (
        AccessEvent.objects.filter(
            actor__in=workers,
            created_at__gte=now - WEEK,
            id__lte=judged,
            action__in=[AccessEvent.Action.VIEW, AccessEvent.Action.REVEAL],
            outcome=AccessEvent.Outcome.ALLOWED,
            beneficiary__isnull=False,
            explanation__isnull=True,
        )
        .select_related("actor", "beneficiary")
        .only("id", "created_at", "action", "purpose", "actor", "beneficiary__reference_id")
        .order_by("-created_at")
    )
    rows = list(unexplained[: limit * 10])
    shares = explained_shares({row.actor_id for row in rows}, now=now, judged=judged)
    lines = [
        Unexplained(
            event_id=row.pk,
            at=row.created_at,
            action=row.action,
            purpose=row.purpose,
            reference_id=row.beneficiary.reference_id,
            worker=row.actor,
            worker_unexplained=shares[row.actor_id].week_unexplained,
            worker_percent=shares[row.actor_id].week_percent,
        )
        for row in rows
    ]
    lines.sort(key=lambda line: (-line.worker_unexplained, line.worker_percent or 0, line.worker.pk, -line.event_id))
    return lines[:limit]


def _unexplained_event(event_id: int) -> AccessEvent:
    event = (
        AccessEvent.objects.select_related("actor")
        .filter(pk=event_id, action__in=[AccessEvent.Action.VIEW, AccessEvent.Action.REVEAL])
        .filter(outcome=AccessEvent.Outcome.ALLOWED, beneficiary__isnull=False)
        .first()
    )
    if event is None:
        raise AccessEvent.DoesNotExist  # the caller answers as for any look-up it cannot find
    return event


def explanation_accept(*, event_id: int, acting_user: User, reason: str) -> AccessExplanation:
    """Accept the look-up `event_id` as real work, with `reason`: it becomes its explanation (kind review).

    Raises NotPermitted (not the worker's governor, or oneself), DomainError (no reason, already explained)
    or AccessEvent.DoesNotExist (no such look-up).
    """
    reason = clean_reason(reason)
    event = _unexplained_event(event_id)
    ensure_may(acting_user, event.actor, "decide_alert")
    try:
        with transaction.atomic():
            return AccessExplanation.objects.create(
                event=event,
                actor=event.actor,
                event_at=event.created_at,
                kind=AccessExplanation.Kind.REVIEW,
                reviewed_by=acting_user,
                reason=reason,
            )
    except IntegrityError:
        raise DomainError(_("This look-up is already explained.")) from None


def unexplained_alert_raise(*, worker: User, acting_user: User, reason: str, now: datetime | None = None) -> Alert:
    """Raise a medium `unexplained_views` alert about `worker` from the review queue, naming `acting_user` and
    the reason, with the week's figures as its evidence. Raises NotPermitted or DomainError."""
    reason = clean_reason(reason)
    ensure_may(acting_user, worker, "decide_alert")
    now = now or timezone.now()
    share = explained_shares([worker.pk], now=now)[worker.pk]
    evidence = {
        "count": share.week_unexplained,
        "threshold": 0,
        "window_start": timezone.localtime(now - WEEK).isoformat(),
        "window_end": timezone.localtime(now).isoformat(),
        "raised_from": "review_queue",
        "reason": reason,
        "summary": f"{share.week_unexplained} unexplained records opened in seven days, raised by a supervisor.",
    }
    return alert_raise(
        rule="unexplained_views",
        severity=Alert.Severity.MEDIUM,
        subject=worker,
        evidence=evidence,
        raised_by=acting_user,
    )
