"""The session store (SESSION_ENGINE): one statement per write, rotation written once, a taken key."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import UserSession
from accounts.session_store import SessionStore


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
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
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
    assert query["sql"].startswith('SELECT "accounts_usersession"."session_data" AS "session_data" FROM')
    UserSession.objects.filter(session_key=session.session_key).update(expire_date=timezone.now())
    expired = SessionStore(session_key=session.session_key)
    assert expired.load() == {} and expired.session_key is None
