"""The session store (SESSION_ENGINE): one statement per write, rotation written once, a taken key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import UserSession
from accounts.services.sessions import sessions_end
from accounts.session_store import SESSION_IP_KEY, SESSION_UA_KEY, SessionStore


def stored(data: dict) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


@pytest.mark.django_db(transaction=True)
def test_a_write_in_autocommit_is_one_statement_without_begin_or_commit():
    session = SessionStore()
    session["a"] = 1
    with CaptureQueriesContext(connection) as queries:
        session.save()
    (query,) = queries.captured_queries  # no BEGIN or COMMIT around it
    assert "INSERT INTO accounts_usersession " in query["sql"]
    assert UserSession.objects.filter(session_key=session.session_key).exists()


@pytest.mark.django_db(transaction=True)
def test_a_rotated_key_already_taken_is_replaced_by_another_in_autocommit():
    taken = stored({"other": True}).session_key
    session = stored({"a": 1})
    fresh = SessionStore._get_new_session_key(session)
    with mock.patch.object(SessionStore, "_get_new_session_key", side_effect=[taken, fresh]):
        session.cycle_key()
        session.save()
    assert session.session_key == fresh
    assert SessionStore(session_key=fresh).load() == {"a": 1, "_prahari_created": mock.ANY}
    assert SessionStore(session_key=taken).load()["other"] is True  # the other session is untouched


@pytest.mark.django_db
def test_a_rotated_key_already_taken_fails_the_callers_transaction_as_a_whole():
    taken = stored({"other": True}).session_key
    session = stored({"a": 1})
    with mock.patch.object(SessionStore, "_get_new_session_key", return_value=taken):
        session.cycle_key()
    with pytest.raises(IntegrityError), transaction.atomic():
        session.save()


@pytest.mark.django_db
def test_a_save_repeating_the_last_write_is_skipped_and_a_change_is_written():
    session = stored({"a": 1})
    with CaptureQueriesContext(connection) as queries:
        session.save()
    assert queries.captured_queries == []
    session["a"] = 2
    session.save()
    assert SessionStore(session_key=session.session_key).load()["a"] == 2


@pytest.mark.django_db
def test_a_load_reads_only_the_data_and_an_expired_session_is_empty():
    session = stored({"a": 1})
    with CaptureQueriesContext(connection) as queries:
        assert SessionStore(session_key=session.session_key).load()["a"] == 1
    (query,) = queries.captured_queries
    assert query["sql"].startswith("SELECT session_data FROM accounts_usersession WHERE")
    UserSession.objects.filter(session_key=session.session_key).update(expire_date=timezone.now())
    expired = SessionStore(session_key=session.session_key)
    assert expired.load() == {} and expired.session_key is None


@pytest.mark.django_db
def test_the_written_row_holds_what_the_session_says_and_an_update_stamps_it_seen():
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with freeze_time(started):
        session = stored({SESSION_IP_KEY: "10.9.8.7", SESSION_UA_KEY: "U" * 250})
    row = UserSession.objects.get(session_key=session.session_key)
    assert (row.user_id, row.device_id, row.ip_address, row.user_agent) == (None, None, "10.9.8.7", "U" * 200)
    assert row.created_at == row.last_seen_at == started
    assert row.expire_date == started + timedelta(seconds=session.get_expiry_age())
    with freeze_time(started + timedelta(minutes=5)):
        session["a"] = 1
        session.save()
    row.refresh_from_db()
    assert row.created_at == started and row.last_seen_at == started + timedelta(minutes=5)
    assert row.get_decoded()["a"] == 1


@pytest.mark.django_db
def test_an_update_of_a_session_ended_meanwhile_raises_update_error():
    session = stored({"a": 1})
    sessions_end(keys=[session.session_key])
    session["a"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert not UserSession.objects.exists()


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_row_in_autocommit_alone_commits_without_waiting_for_the_disk(world):
    """Only the statement that writes an anonymous session in autocommit relaxes its commit; a signed-in
    session's row, and a row written in a caller's transaction (the login's), commit as everything else."""
    assert synchronous_commit() == "on"
    anonymous = SessionStore()
    anonymous["a"] = 1
    signed_in = SessionStore()
    signed_in.update({SESSION_KEY: str(world.worker.pk)})
    inside = SessionStore()
    inside["a"] = 1
    with CaptureQueriesContext(connection) as queries:
        anonymous.save()
        anonymous["a"] = 2
        anonymous.save()
        signed_in.save()
        with transaction.atomic():
            inside.save()
            assert synchronous_commit() == "on"
    relaxed = [
        q["sql"].startswith("WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)")
        for q in queries.captured_queries
        if "accounts_usersession" in q["sql"]
    ]
    assert relaxed == [True, True, False, False]
    assert synchronous_commit() == "on"  # only for the statement's own transaction
    assert SessionStore(session_key=anonymous.session_key).load()["a"] == 2
    assert UserSession.objects.get(session_key=signed_in.session_key).user == world.worker


def test_a_new_key_holds_168_random_bits_in_characters_safe_anywhere():
    keys = {SessionStore()._get_new_session_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(len(key) == 34 and set(key) <= set("abcdefghijklmnopqrstuvwxyz234567") for key in keys)
