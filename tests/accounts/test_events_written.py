"""An event is written by an INSERT built once, and reads back as the ORM would have written it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType
from accounts.services.events import event_record


@pytest.mark.django_db
def test_an_event_reads_back_whole_with_its_number_and_time(world):
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with freeze_time(at), CaptureQueriesContext(connection) as queries:
        event = event_record(
            type=AccountEventType.LOGIN_SUCCEEDED,
            actor=world.worker,
            subject=world.worker,
            reason="why",
            ip="10.0.0.9",
            data={"device": 7, "otp": "TOTPDevice"},
        )
    (query,) = queries.captured_queries
    assert query["sql"].startswith("INSERT INTO accounts_accountevent (")
    stored = AccountEvent.objects.get(pk=event.pk)
    assert (stored.type, stored.actor, stored.subject, stored.reason) == (200, world.worker, world.worker, "why")
    assert (stored.ip_address, stored.data, stored.created_at) == ("10.0.0.9", {"device": 7, "otp": "TOTPDevice"}, at)
    assert event.created_at == at
    none = event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=None)
    assert AccountEvent.objects.filter(pk=none.pk, actor=None, subject=None, ip_address=None, data={}).exists()


@pytest.mark.django_db
def test_a_written_event_is_still_append_only(world):
    event = event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=world.worker)
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
