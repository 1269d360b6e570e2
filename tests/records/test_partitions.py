"""The access log partitioned by month: partitions made ahead by the `partitions` job, appends at a month's edge and
outside every month, the append-only trigger on the parent and its partitions, and retention that drops whole
months only after their signed cut, from which verify_audit starts."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from freezegun import freeze_time

from governance.jobs import job_run
from records.audit import access_event_append, access_events_append_past
from records.checkpoints import checkpoint_files, checkpoint_read
from records.models import AccessEvent, AccessExplanation
from records.partitions import DEFAULT, TABLE, month_after, month_of, partition_name
from records.verification import verify

pytestmark = pytest.mark.django_db


def fields(**extra) -> dict:
    return {"action": "view", "outcome": "allowed", "purpose": "due_dose", "ip_address": "10.0.0.7", **extra}


def sql(statement: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def partitions() -> set[str]:
    rows = sql("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [TABLE])
    return {name for (name,) in rows}


def partition_of(event: AccessEvent) -> str:
    return sql(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [event.pk])[0][0]


def verify_audit() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_the_log_is_partitioned_by_month_with_a_default(settings):
    assert sql("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE]) == [("p",)]
    now = timezone.now()
    months = [month_after(month_of(now), n) for n in range(-12, settings.PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD + 1)]
    assert {partition_name(m) for m in months} | {DEFAULT} <= partitions()
    key = sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", [TABLE]
    )
    assert key == [("PRIMARY KEY (id, created_at)",)]


def test_an_insert_naming_its_id_is_refused(world):
    """Ids come only from the identity, so no two rows share one though the key also holds the time."""
    event = access_event_append(actor=world.worker, **fields())
    columns = "id, created_at, actor_id, actor_seq, action, outcome, purpose, detail, prev_hash, hash"
    with pytest.raises(DatabaseError, match="non-DEFAULT value"), transaction.atomic():
        sql(
            f"INSERT INTO {TABLE} ({columns}) VALUES (%s, now(), %s, 99, 'view', 'allowed', '', '{{}}', '', '')",
            [event.pk, world.worker.pk],
        )


def test_appends_on_either_side_of_a_month_boundary_land_in_their_months(world):
    boundary = month_of(timezone.now())
    before, at = boundary - timedelta(microseconds=1), boundary
    access_events_append_past(actor=world.worker, events=[(before, fields()), (at, fields())])
    first, second = AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq")
    assert (first.created_at, second.created_at) == (before, at)
    assert partition_of(first) == partition_name(month_after(boundary, -1))
    assert partition_of(second) == partition_name(boundary)
    assert second.prev_hash == first.hash and verify().problem is None


def test_an_append_past_every_month_lands_in_the_default_and_the_job_moves_it(world, settings):
    access_event_append(actor=world.worker, **fields())
    later = month_after(month_of(timezone.now()), settings.PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD + 2)
    assert partition_name(later) not in partitions()
    with freeze_time(later + timedelta(hours=1)):  # the job has not run for months: the append still lands
        event = access_event_append(actor=world.worker, **fields())
        assert partition_of(event) == DEFAULT
        summary = job_run("partitions")
    assert partition_name(later) in summary["created"] and summary["moved_from_default"] == 1
    assert partition_of(event) == partition_name(later)
    assert not sql(f"SELECT 1 FROM ONLY {DEFAULT}")
    moved = AccessEvent.objects.get(pk=event.pk)
    assert (moved.actor_seq, moved.hash, moved.created_at) == (2, event.hash, event.created_at)
    assert verify().problem is None


def test_the_job_makes_months_ahead_once(settings):
    now = month_after(month_of(timezone.now()), 2) + timedelta(days=3)
    ahead = [month_after(month_of(now), n) for n in range(1, settings.PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD + 1)]
    new = [m for m in ahead if partition_name(m) not in partitions()]
    assert len(new) == 2
    dry = job_run("partitions", now=now, dry_run=True)
    assert dry["created"] == [partition_name(m) for m in new] and partitions().isdisjoint(dry["created"])

    first = job_run("partitions", now=now)

    assert first["created"] == [partition_name(m) for m in new] and set(first["created"]) <= partitions()
    again = job_run("partitions", now=now)
    assert (again["created"], again["dropped"], again["moved_from_default"]) == ([], [], 0)


def test_the_append_only_trigger_guards_the_parent_and_every_partition(world, settings):
    event = access_event_append(actor=world.worker, **fields())
    with freeze_time(month_after(month_of(event.created_at), settings.PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD + 1)):
        assert partition_of(access_event_append(actor=world.worker, **fields())) == DEFAULT
    for table in (TABLE, partition_name(month_of(event.created_at)), DEFAULT):
        for statement in (f"UPDATE {table} SET purpose = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                sql(statement)
    assert AccessEvent.objects.get(pk=event.pk).purpose == "due_dose"


# --- Retention ---------------------------------------------------------------------------------------------------


@pytest.fixture
def old_months(world) -> list:
    """Two months that ended long past retention. asha looked up a record in each (the first explained), then 10
    days ago and now; ravi only in the first. An ordinary checkpoint names them all before anything is dropped."""
    first = month_of(timezone.now() - timedelta(days=500))
    second = month_after(first)
    access_events_append_past(
        actor=world.worker,
        events=[(at, fields()) for at in (first + timedelta(days=2), second + timedelta(days=2))],
    )
    access_events_append_past(actor=world.colleague, events=[(first + timedelta(days=3), fields())])
    access_events_append_past(actor=world.worker, events=[(timezone.now() - timedelta(days=10), fields())])
    access_event_append(actor=world.worker, **fields())
    job_run("checkpoints")
    oldest = AccessEvent.objects.get(actor=world.worker, actor_seq=1)
    AccessExplanation.objects.create(event=oldest, actor=world.worker, event_at=oldest.created_at, kind="review")
    return [first, second]


def event(actor, seq: int) -> AccessEvent:
    return AccessEvent.objects.get(actor=actor, actor_seq=seq)


def test_retention_drops_old_months_after_their_cut_and_verify_starts_there(world, settings, old_months):
    asha_1, asha_2, ravi_1 = event(world.worker, 1), event(world.worker, 2), event(world.colleague, 1)
    before = set(checkpoint_files(settings.PRAHARI_AUDIT_CHECKPOINT_DIR))
    names = [partition_name(m) for m in old_months]

    summary = job_run("partitions")

    assert summary["moved_from_default"] == 3 and set(names) <= set(summary["created"])
    assert summary["dropped"] == names and partitions().isdisjoint(names)
    left = AccessEvent.objects.order_by("actor_id", "actor_seq").values_list("actor_id", "actor_seq")
    assert list(left) == [(world.worker.pk, 3), (world.worker.pk, 4)]
    assert not AccessExplanation.objects.exists()  # the explanation went with its month
    written = [p for p in checkpoint_files(settings.PRAHARI_AUDIT_CHECKPOINT_DIR) if p not in before]
    assert sorted(p.name for p in written) == sorted(summary["cut_files"])
    cuts = {header["cut"]: entries for header, entries in (checkpoint_read(p.read_bytes()) for p in written)}
    assert cuts == {  # one signed cut per month: the last event of each chain in it, before the month's end
        old_months[1].isoformat(): sorted([(world.worker.pk, 1, asha_1.hash), (world.colleague.pk, 1, ravi_1.hash)]),
        month_after(old_months[1]).isoformat(): [(world.worker.pk, 2, asha_2.hash)],
    }

    out = verify_audit()
    assert "Access log intact: 2 events verified." in out
    assert "2 chains start at their signed cut" in out and "(4 checkpoint entries name dropped events)" in out
    assert "Checkpoints intact" in out
    assert (job_run("partitions")["dropped"], job_run("partitions")["cut_files"]) == ([], [])


def test_tampering_after_the_cut_is_caught(world, settings, old_months):
    job_run("partitions")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off: someone with database access
        cursor.execute(f"UPDATE {TABLE} SET purpose = 'x' WHERE actor_id = %s AND actor_seq = 3", [world.worker.pk])
    with pytest.raises(CommandError, match="its content does not match its hash"):
        call_command("verify_audit")


def test_a_chain_starting_after_its_genesis_without_a_cut_fails(world, settings, old_months):
    summary = job_run("partitions")
    for name in summary["cut_files"]:
        (settings.PRAHARI_AUDIT_CHECKPOINT_DIR / name).unlink()
    with pytest.raises(CommandError, match=r"sequence 3, expected 1"):
        call_command("verify_audit")


def test_no_month_is_dropped_when_its_cut_cannot_be_written(world, settings, tmp_path, old_months):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = blocker / "checkpoints"
    with pytest.raises(OSError):
        job_run("partitions")
    assert AccessEvent.objects.count() == 5 and AccessExplanation.objects.count() == 1
    assert not {partition_name(m) for m in old_months} & partitions()  # the months made for them rolled back too


def test_a_month_whose_chains_do_not_go_on_from_it_is_kept(world, settings, old_months):
    """The events after a cut must start with the one after it: a gap (here the 10-day-old event deleted past the
    trigger) keeps the month before it; its events are the evidence."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"DELETE FROM {TABLE} WHERE actor_id = %s AND actor_seq = 3", [world.worker.pk])
    summary = job_run("partitions")
    assert summary["dropped"] == [partition_name(old_months[0])] and len(summary["cut_files"]) == 1
    assert summary["held_back"].startswith(
        f"{partition_name(old_months[1])} kept: the chains of actors {world.worker.pk} "
    )
    assert event(world.worker, 2).hash and partition_name(old_months[1]) in partitions()
