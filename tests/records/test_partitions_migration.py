"""Migration records/0018 turns the access log into monthly partitions and back, in place, with rows in it: every
row stays as it was (ids, times, hashes), the chains verify, ids go on from the sequence, the explanations keep
their events, and the append-only trigger guards the table either way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from records.audit import access_event_append, access_events_append_past
from records.models import AccessEvent, AccessExplanation
from records.partitions import DEFAULT, TABLE, month_of, partition_name
from records.verification import verify

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("records", "0017_transparency_requests")]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.fixture
def back_at_the_end():
    try:
        yield
    finally:
        migrate(None)


def fields(**extra) -> dict:
    return {"action": "view", "outcome": "allowed", "purpose": "due_dose", "ip_address": "10.0.0.7", **extra}


def rows() -> list[tuple]:
    names = [f.attname for f in AccessEvent._meta.concrete_fields]
    return list(AccessEvent.objects.order_by("id").values_list(*names))


def one(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def kind() -> str:
    return one("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])[0]


def refuses_changes() -> bool:
    for statement in (f"UPDATE {TABLE} SET purpose = 'x'", f"DELETE FROM {TABLE}"):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        except DatabaseError as error:
            if "append-only" not in str(error):
                raise
        else:
            return False
    return True


def test_rows_and_chains_survive_partitioning_both_ways(world, back_at_the_end):
    now = timezone.now()
    long_ago = now - timedelta(days=600)  # older than retention: the migration still gives its month a partition
    access_events_append_past(
        actor=world.worker,
        events=[(at, fields()) for at in (long_ago, now - timedelta(days=40), now - timedelta(hours=1))],
    )
    access_event_append(actor=world.colleague, **fields(action="search", outcome="not_found"))
    seen = AccessEvent.objects.get(actor=world.worker, actor_seq=2)
    AccessExplanation.objects.create(event=seen, actor=world.worker, event_at=seen.created_at, kind="review")
    before = rows()
    assert kind() == "p" and verify().problem is None

    migrate(BEFORE)

    assert kind() == "r" and rows() == before and refuses_changes()
    assert one(
        "SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'records_accessexplanation'::regclass "
        "AND confrelid = %s::regclass",
        [TABLE],
    ) == (1,)  # the plain foreign key is back
    assert verify().problem is None
    plain = access_event_append(actor=world.worker, **fields())
    assert plain.pk > before[-1][0] and plain.actor_seq == 4

    migrate(None)

    assert kind() == "p" and rows() == [*before, rows()[-1]] and rows()[-1][0] == plain.pk
    assert refuses_changes() and verify().problem is None and verify().checked == 5
    assert AccessExplanation.objects.get(event_id=seen.pk).event == seen
    partition_of = dict(one(f"SELECT array_agg(ARRAY[id::text, tableoid::regclass::text]) FROM {TABLE}")[0])
    assert partition_of[str(before[0][0])] == partition_name(month_of(long_ago))
    assert partition_of[str(plain.pk)] == partition_name(month_of(plain.created_at))
    assert DEFAULT not in partition_of.values()
    later = access_event_append(actor=world.worker, **fields())  # the id sequence goes on past the copied rows
    assert later.pk > plain.pk and later.actor_seq == 5 and verify().problem is None
