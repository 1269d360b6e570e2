"""The `retention` job's limits (SECURITY.md §Audit): it never deletes an access or account event, it keeps
history 6 calendar years whatever their leap days, and it lets sent or failed outbox rows go after 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AccountEvent, AccountEventType, Notification, User
from accounts.services.events import event_record
from governance.jobs import job_run
from records.audit import access_events_append_past
from records.models import AccessEvent
from records.verification import verify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _age_account_event(event: AccountEvent, at: datetime) -> None:
    # Account events refuse every change (the ORM and a trigger): age one the way only an import by the database's
    # owner could, with triggers off for this transaction (replica mode).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"UPDATE {AccountEvent._meta.db_table} SET created_at = %s WHERE id = %s", [at, event.pk])


def test_retention_never_deletes_an_access_or_account_event_however_old(world):
    now = timezone.now()
    fields = {"action": "view", "outcome": "allowed", "purpose": "due_dose", "ip_address": "10.0.0.7"}
    times = [now - timedelta(days=days) for days in (3000, 2193, 401, 31, 1)]
    access_events_append_past(actor=world.worker, events=[(at, fields) for at in times])
    old = event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=world.worker, ip="10.0.0.7")
    _age_account_event(old, now - timedelta(days=3000))
    accesses, accounts = AccessEvent.objects.count(), AccountEvent.objects.count()

    job_run("retention", now=now + timedelta(days=3650))  # ten years on: everything it may prune is past its limit

    assert AccessEvent.objects.count() == accesses == 5
    assert AccountEvent.objects.count() == accounts and AccountEvent.objects.filter(pk=old.pk).exists()
    assert verify().problem is None


@pytest.mark.parametrize(
    "now",
    [
        datetime(2028, 3, 1, 12, tzinfo=UTC),  # six years back to 1 March 2022: 29 February 2024 and 2028 between
        datetime(2030, 3, 1, 12, tzinfo=UTC),  # back to 1 March 2024: one 29 February (2028) between
        datetime(2029, 1, 15, 12, tzinfo=UTC),  # back to 15 January 2023: one (2024)
    ],
    ids=["two-leap-days", "one-leap-day", "january"],
)
def test_history_is_kept_six_calendar_years_and_pruned_after_2192_days(world, now):
    kept, pruned = UserFactory(username="kept"), UserFactory(username="pruned")
    six_years_before = now.replace(year=now.year - 6)
    User.history.filter(id=kept.pk).update(history_date=six_years_before + timedelta(hours=1))
    User.history.filter(id=pruned.pk).update(history_date=now - timedelta(days=2192, hours=1))
    assert User.history.filter(id__in=[kept.pk, pruned.pk]).count() >= 2

    summary = job_run("retention", now=now)

    assert User.history.filter(id=kept.pk).exists(), "history younger than six calendar years was pruned"
    assert not User.history.filter(id=pruned.pk).exists()
    assert summary["history_rows"] >= 1


def _message(key: str, state: str, age: timedelta, now: datetime) -> Notification:
    row = Notification.objects.create(channel="sms", to="+919800000001", kind="test", idempotency_key=key, state=state)
    Notification.objects.filter(pk=row.pk).update(created_at=now - age)  # the field stamps "now" itself
    return row


def test_outbox_rows_sent_or_failed_go_after_30_days_and_pending_ones_stay(world):
    now = datetime(2026, 11, 25, 6, tzinfo=UTC)
    minute = timedelta(minutes=1)
    _message("sent-old", Notification.State.SENT, timedelta(days=30) + minute, now)
    _message("failed-old", Notification.State.FAILED, timedelta(days=30) + minute, now)
    _message("sent-young", Notification.State.SENT, timedelta(days=30) - minute, now)
    _message("failed-young", Notification.State.FAILED, timedelta(days=30) - minute, now)
    _message("pending-old", Notification.State.PENDING, timedelta(days=90), now)

    summary = job_run("retention", now=now)

    assert summary["outbox_rows"] == 2
    left = set(Notification.objects.filter(kind="test").values_list("idempotency_key", flat=True))
    assert left == {"sent-young", "failed-young", "pending-old"}
