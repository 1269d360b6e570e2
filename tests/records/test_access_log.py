"""The access log: append-only (ORM and PostgreSQL), hash-chained per actor, checked by verify_audit."""

from __future__ import annotations

import hashlib
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from records.audit import access_event_append, canonical
from records.models import AccessChainHead, AccessEvent, Beneficiary
from records.verification import verify

TABLE = AccessEvent._meta.db_table


@pytest.fixture
def record(world):
    return Beneficiary.objects.create(
        reference_id="10000000000001",
        name="Sunita Yadav",
        year_of_birth=1984,
        gender="F",
        id_type="aadhaar",
        id_number="123412341234",
        mobile="+919876500001",
        facility=world.facility,
    )


def append(actor, record=None, **extra):
    fields = {"action": "view", "outcome": "allowed", "purpose": "follow-up visit", "ip_address": "10.0.0.7"}
    return access_event_append(actor=actor, beneficiary=record, **{**fields, **extra})


@pytest.fixture
def log(world, record):
    """Three events of asha's and two of ravi's, interleaved."""
    return [append(u, record) for u in (world.worker, world.colleague, world.worker, world.colleague, world.worker)]


def raw(sql: str, params=()) -> None:
    """Tamper the way someone with database access would: plain SQL, past the ORM (and the trigger)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off, this transaction only
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_each_actor_has_its_own_chain(world, log):
    asha = list(AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq"))
    assert [e.actor_seq for e in asha] == [1, 2, 3]
    assert asha[1].prev_hash == asha[0].hash and asha[2].prev_hash == asha[1].hash
    assert AccessChainHead.objects.get(actor=world.worker).hash == asha[2].hash
    assert verify().problem is None and verify().checked == 5


@pytest.mark.django_db
def test_verify_audit_reports_an_intact_log(log, capsys):
    call_command("verify_audit")
    assert "Access log intact: 5 events verified." in capsys.readouterr().out


@pytest.mark.django_db
def test_an_edited_row_is_named(world, log):
    target = log[2]
    with transaction.atomic():
        raw(f"UPDATE {TABLE} SET purpose = %s WHERE id = %s", ["curiosity", target.pk])
    with pytest.raises(CommandError, match=f"event {target.pk}: its content does not match its hash"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_can_check_some_actors_chains_only(world, log):
    """What the P5 bench checks after its writers: their chains, whatever else the database holds."""
    with transaction.atomic():
        raw(f"UPDATE {TABLE} SET purpose = %s WHERE id = %s", ["curiosity", log[1].pk])  # ravi's first event
    assert verify([world.worker.pk]).problem is None and verify([world.worker.pk]).checked == 3
    assert f"event {log[1].pk}" in verify([world.colleague.pk]).problem
    assert f"event {log[1].pk}" in verify().problem


@pytest.mark.django_db
def test_a_deleted_middle_row_is_found(world, log):
    with transaction.atomic():
        raw(f"DELETE FROM {TABLE} WHERE id = %s", [log[2].pk])  # asha's second event
    with pytest.raises(CommandError, match=f"event {log[4].pk}: actor {world.worker.pk} sequence 3, expected 2"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_a_deleted_last_row_is_found(world, log):
    with transaction.atomic():
        raw(f"DELETE FROM {TABLE} WHERE id = %s", [log[4].pk])
    with pytest.raises(CommandError, match="the chain ends at 2 but its head records 3"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_an_inserted_row_is_found(world, log, record):
    forged = AccessEvent(
        actor=world.worker,
        actor_seq=4,
        action="view",
        outcome="allowed",
        beneficiary=record,
        purpose="routine",
        prev_hash=log[4].hash,
        hash="0" * 64,
    )
    forged.save()
    with transaction.atomic():
        raw(
            f"UPDATE {AccessChainHead._meta.db_table} SET seq = 4, hash = %s WHERE actor_id = %s",
            ["0" * 64, world.worker.pk],
        )
    with pytest.raises(CommandError, match=f"event {forged.pk}: its content does not match its hash"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_delete_events(log):
    event = log[0]
    event.purpose = "rewritten"
    for attempt in (
        event.save,
        event.delete,
        lambda: AccessEvent.objects.filter(pk=event.pk).update(purpose="x"),
        lambda: AccessEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(ValueError, match="append-only"):
            attempt()


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete_in_sql(log):
    for sql in (f"UPDATE {TABLE} SET purpose = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [log[0].pk])
    assert verify().problem is None


@pytest.mark.django_db(transaction=True)
def test_sixteen_writers_at_once_leave_a_chain_that_verifies(world, record):
    actors = [world.worker, world.colleague, world.district_worker, world.far_worker]
    errors, start = [], threading.Barrier(16)

    def writer(n):
        try:
            start.wait(30)
            for _ in range(10):
                append(actors[n % len(actors)], record)  # four writers per actor: their appends serialise
        except Exception as error:  # reported below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    verdict = verify()
    assert (verdict.problem, verdict.checked) == (None, 160)
    assert sorted(AccessChainHead.objects.values_list("seq", flat=True)) == [40, 40, 40, 40]


# --- The one-statement append (outside a transaction) ---------------------------------------------------------


def chain(actor) -> list[int]:
    return list(AccessEvent.objects.filter(actor=actor).order_by("actor_seq").values_list("actor_seq", flat=True))


def statements(queries) -> list[str]:
    """The first word of each statement."""
    return [q["sql"].split()[0].upper() for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_an_append_after_this_connections_last_is_one_statement(world, record):
    first = append(world.worker, record)  # nothing remembered yet: the head is locked and read
    with CaptureQueriesContext(connection) as queries:
        second = append(world.worker, record)
    assert statements(queries) == ["WITH"]  # the head's move and the insert in one statement
    assert (second.actor_seq, second.prev_hash) == (2, first.hash)
    assert AccessEvent.objects.get(pk=second.pk).hash == second.hash
    assert AccessChainHead.objects.get(actor=world.worker).hash == second.hash
    assert (verify().problem, verify().checked) == (None, 2)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_append_is_never_linked_to(world, record):
    append(world.worker, record)
    with pytest.raises(RuntimeError), transaction.atomic():
        append(world.worker, record)  # this connection now remembers event 2 …
        raise RuntimeError("the request failed after its event")  # … which never committed
    with CaptureQueriesContext(connection) as queries:
        event = append(world.worker, record)
    assert event.actor_seq == 2 and chain(world.worker) == [1, 2]
    assert any(sql == "SELECT" for sql in statements(queries))  # the stale guess fell back to reading the head
    assert (verify().problem, verify().checked) == (None, 2)


@pytest.mark.django_db(transaction=True)
def test_an_append_after_another_connections_links_to_theirs(world, record):
    """Same sequence number, another hash: this connection's guess is refused on the hash, not only the number."""
    with pytest.raises(RuntimeError), transaction.atomic():
        append(world.worker, record)  # remembered here as event 1, rolled back
        raise RuntimeError("rolled back")
    theirs = {}

    def elsewhere():
        try:
            theirs["event"] = append(world.worker, record)  # the real event 1, another hash
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(30)
    event = append(world.worker, record)
    assert (event.actor_seq, event.prev_hash) == (2, theirs["event"].hash)
    assert (verify().problem, verify().checked) == (None, 2)


@pytest.mark.django_db(transaction=True)
def test_an_append_that_cannot_be_written_leaves_the_chain_as_it_was(world, record):
    from tests.records.conftest import access_log_broken

    before = append(world.worker, record)
    with access_log_broken(), pytest.raises(DatabaseError, match="No space left"):
        append(world.worker, record)
    assert chain(world.worker) == [1]
    assert AccessChainHead.objects.get(actor=world.worker).hash == before.hash
    assert append(world.worker, record).actor_seq == 2
    assert (verify().problem, verify().checked) == (None, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("ip", ["", "2001:0db8:0000:0000:0000:0000:0000:0001", "::ffff:10.0.0.7"])
def test_an_ip_address_is_hashed_as_it_is_stored(world, record, ip):
    """An empty address is stored as NULL, an IPv6 one in its short form: the hash covers what verify reads."""
    append(world.worker, record, ip_address=ip)
    assert verify().problem is None


@pytest.mark.django_db(transaction=True)
def test_the_append_statements_are_prepared_once_per_connection(world, record):
    for _ in range(3):
        append(world.worker, record)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert sum(sql.startswith("WITH head AS (UPDATE") for sql in prepared) == 1  # the one-statement append
    assert sum(sql.startswith("SELECT h.seq, h.hash") for sql in prepared) == 1  # the head lock (first append)
    assert not any("django_session" in sql or "accounts_user" in sql for sql in prepared)  # nothing else


@pytest.mark.django_db(transaction=True)
def test_with_a_transaction_pooler_the_append_statements_are_not_prepared(world, record, settings):
    """PRAHARI_DB_POOLER=transaction's DATABASES entry: the appends run unprepared (tests/integration/
    test_pgbouncer.py runs them through PgBouncer)."""
    db = connection.settings_dict
    saved = {key: db[key] for key in settings.DATABASE_POOLER_OPTIONS["transaction"]}
    connection.close()
    db.update(settings.DATABASE_POOLER_OPTIONS["transaction"])
    try:
        for _ in range(3):
            append(world.worker, record)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone()[0] == 0
    finally:
        connection.close()
        db.update(saved)
    assert list(AccessEvent.objects.order_by("actor_seq").values_list("actor_seq", flat=True)) == [1, 2, 3]
    assert verify().problem is None


@pytest.mark.django_db
def test_a_chain_relinked_with_plain_sha256_is_caught(world, log):
    """An attacker with database access but not the audit key edits an event, then re-links the rest of its
    chain the only way open to them: plain SHA-256 over the same canonical text, the head moved to match.
    Every link then agrees with the next; only the key tells the forgery apart."""
    edited, later = AccessEvent.objects.get(pk=log[2].pk), AccessEvent.objects.get(pk=log[4].pk)
    edited.purpose = "curiosity"
    prev = edited.prev_hash  # the first event stays as written: its link is whatever the database holds
    with transaction.atomic():
        for event in (edited, later):
            digest = hashlib.sha256(f"{prev}\n{canonical(event)}".encode()).hexdigest()
            raw(
                f"UPDATE {TABLE} SET purpose = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [event.purpose, prev, digest, event.pk],
            )
            prev = digest
        raw(f"UPDATE {AccessChainHead._meta.db_table} SET hash = %s WHERE actor_id = %s", [prev, world.worker.pk])
    assert AccessEvent.objects.get(pk=later.pk).prev_hash == AccessEvent.objects.get(pk=edited.pk).hash
    with pytest.raises(CommandError, match=f"event {edited.pk}: its content does not match its hash"):
        call_command("verify_audit")
