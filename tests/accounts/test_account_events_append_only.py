"""Account events are append-only in bulk too: no queryset update, bulk update or delete, on the model's manager
or a related one (SECURITY.md §Audit)."""

from __future__ import annotations

import pytest

from accounts.models import AccountEvent, AccountEventType
from accounts.services.events import event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(world):
    return [
        event_record(type=AccountEventType.LOGIN_FAILED, actor=None, subject=world.worker, reason="wrong password"),
        event_record(type=AccountEventType.LOCKED_OUT, actor=None, subject=world.worker, reason="10 failures"),
    ]


def _as_written(events):
    return [(e.pk, e.type, e.reason) for e in events]


def _stored():
    return list(AccountEvent.objects.order_by("pk").values_list("pk", "type", "reason"))


@pytest.mark.parametrize(
    "change",
    [
        lambda world: AccountEvent.objects.filter(subject=world.worker).update(reason="rewritten"),
        lambda world: AccountEvent.objects.all().delete(),
        lambda world: AccountEvent.objects.filter(type=AccountEventType.LOCKED_OUT).delete(),
        lambda world: world.worker.events_as_subject.update(reason="rewritten"),
        lambda world: world.worker.events_as_subject.all().delete(),
        lambda world: AccountEvent.objects.bulk_update(
            [AccountEvent(pk=e.pk, reason="rewritten") for e in AccountEvent.objects.all()], ["reason"]
        ),
    ],
    ids=["update", "delete-all", "delete-filtered", "related-update", "related-delete", "bulk-update"],
)
def test_bulk_changes_are_refused_and_change_nothing(world, events, change):
    with pytest.raises(ValueError, match="append-only"):
        change(world)
    assert _stored() == _as_written(events)


def test_adding_events_in_bulk_still_works(world, events):
    AccountEvent.objects.bulk_create([AccountEvent(type=AccountEventType.USER_CREATED, subject=world.colleague)])
    assert AccountEvent.objects.count() == 3
