"""A canary's access event, the account's suspension (status, history, its event, its sessions) and the alert are
one transaction: when its last write fails, none of them stays.

The fault is PostgreSQL's own: a trigger on the alerts table raises on insert, as a full disk or a lost table
would, after the access event and the suspension are written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from accounts.models import AccountEvent, Alert, Status, User, UserSession
from records.models import AccessChainHead, AccessEvent
from records.refusals import AccessLogUnavailable
from records.services import AccessInterrupted, record_get_for_viewer
from tests.records.conftest import records, viewer  # noqa: F401 (records: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ASKED = "beneficiary_request"


@pytest.fixture
def alerts_fail() -> Iterator[None]:
    table = Alert._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION prahari_fault_alert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$"
        )
        cursor.execute(
            f'CREATE TRIGGER prahari_fault BEFORE INSERT ON "{table}" EXECUTE FUNCTION prahari_fault_alert()'
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TRIGGER IF EXISTS prahari_fault ON "{table}"')
            cursor.execute("DROP FUNCTION IF EXISTS prahari_fault_alert()")


def _state(user: User) -> dict:
    user.refresh_from_db()
    return {
        "status": user.status,
        "history": user.history.count(),
        "account_events": AccountEvent.objects.filter(subject=user).count(),
        "access_events": AccessEvent.objects.filter(actor=user).count(),
        "chain_heads": sorted(AccessChainHead.objects.values_list("pk", "seq", "hash", "lookups")),
        "alerts": Alert.objects.count(),
        "sessions": UserSession.objects.filter(user=user).count(),
    }


def _open(user, record):
    return record_get_for_viewer(viewer=viewer(user), reference_id=record.reference_id, purpose=ASKED)


def test_the_suspension_and_its_event_roll_back_with_the_failed_transaction(world, records, alerts_fail):  # noqa: F811
    UserSession.objects.create(
        session_key="s" * 32, session_data="", expire_date="2099-01-01T00:00Z", user=world.worker
    )
    before = _state(world.worker)

    with pytest.raises(AccessLogUnavailable):
        _open(world.worker, records.canary)

    assert _state(world.worker) == before
    assert before["status"] == Status.ACTIVE


def test_without_the_fault_the_same_open_suspends_and_logs(world, records):  # noqa: F811
    """The control: the writes the fault undoes are made when nothing fails."""
    before = _state(world.worker)
    with pytest.raises(AccessInterrupted):
        _open(world.worker, records.canary)
    after = _state(world.worker)
    assert after["status"] == Status.SUSPENDED
    assert after["account_events"] > before["account_events"]
    assert after["access_events"] == before["access_events"] + 1
    assert after["alerts"] == before["alerts"] + 1
    assert after["history"] > before["history"]
