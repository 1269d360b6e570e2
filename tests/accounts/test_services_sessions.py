"""Ending sessions: one statement for owners, devices and keys, with one session kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import RegisteredDevice, UserSession
from accounts.services.sessions import sessions_end
from accounts.session_store import SessionStore


def opened(user=None, device=None) -> str:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk) if user else None
    if device is not None:
        session["_prahari_device"] = device.pk
    session.save()
    return session.session_key


def left() -> set[str]:
    return set(UserSession.objects.values_list("session_key", flat=True))


@pytest.mark.django_db
def test_an_owners_sessions_end_in_one_statement_and_are_counted(world):
    mine = {opened(world.worker), opened(world.worker)}
    other = opened(world.supervisor)
    with CaptureQueriesContext(connection) as queries:
        ended = sessions_end(users=[world.worker.pk])
    assert ended == {world.worker.pk: 2}
    assert len(queries.captured_queries) == 1
    assert left() == {other}
    assert not mine & left()


@pytest.mark.django_db
def test_the_kept_session_survives_and_is_not_counted(world):
    kept, gone = opened(world.worker), opened(world.worker)
    assert sessions_end(users=[world.worker.pk], keep_key=kept) == {world.worker.pk: 1}
    assert kept in left() and gone not in left()


@pytest.mark.django_db
def test_a_devices_sessions_end_and_other_devices_stay(world):
    phone = RegisteredDevice.objects.create(user=world.worker, token_hash="p" * 64, code="PHONE001", status="approved")
    tablet = RegisteredDevice.objects.create(user=world.worker, token_hash="t" * 64, code="TABLE001", status="approved")
    on_phone, on_tablet = opened(world.worker, phone), opened(world.worker, tablet)
    assert sessions_end(devices=[phone.pk]) == {world.worker.pk: 1}
    assert on_phone not in left() and on_tablet in left()


@pytest.mark.django_db
def test_a_named_anonymous_session_ends_without_counting_an_owner(world):
    anonymous, signed_in = opened(), opened(world.worker)
    assert sessions_end(keys=[anonymous]) == {}
    assert left() == {signed_in}


@pytest.mark.django_db
def test_nothing_named_ends_nothing_and_asks_nothing(world):
    opened(world.worker)
    with CaptureQueriesContext(connection) as queries:
        assert sessions_end() == {}
    assert queries.captured_queries == []
    assert len(left()) == 1
