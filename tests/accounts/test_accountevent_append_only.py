"""Account events are append-only in PostgreSQL itself (migration 0018), not only through the ORM (its save and
delete, and its querysets: tests/accounts/test_account_events_append_only.py): SQL that goes past the ORM, and an
UPDATE the ORM's guard is skipped for, are refused by the trigger."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, models, transaction

from accounts.models import AccountEvent, AccountEventType
from accounts.services.events import event_record


@pytest.fixture
def event(world):
    return event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=world.worker, reason="first")


@pytest.mark.django_db
def test_the_orm_refuses_a_change_and_a_delete(event):
    row = AccountEvent.objects.get(pk=event.pk)
    row.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        lambda pk: models.QuerySet(AccountEvent).filter(pk=pk).update(reason="rewritten"),  # the plain QuerySet
        lambda pk: models.QuerySet(AccountEvent).filter(pk=pk)._raw_delete(connection.alias),
        lambda pk: connection.cursor().execute("UPDATE accounts_accountevent SET reason = 'x' WHERE id = %s", [pk]),
        lambda pk: connection.cursor().execute("DELETE FROM accounts_accountevent WHERE id = %s", [pk]),
    ],
    ids=["plain-queryset-update", "raw-delete", "sql-update", "sql-delete"],
)
def test_postgresql_refuses_an_update_or_delete_past_the_orm(event, change):
    with pytest.raises(DatabaseError, match="accounts_accountevent is append-only"), transaction.atomic():
        change(event.pk)
    assert AccountEvent.objects.get(pk=event.pk).reason == "first"


@pytest.mark.django_db
def test_adding_events_still_works(event, world):
    event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=world.worker, reason="second")
    assert list(AccountEvent.objects.filter(subject=world.worker).values_list("reason", flat=True)) == [
        "second",
        "first",
    ]
