"""The pace each append keeps for the cadence rule: the mean and spread of the gaps between the chain's latest
requests, the same on every append path (the lock reads the chain's latest times; the one-statement append
remembers them)."""

from __future__ import annotations

import itertools
import statistics
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction

from records.audit import access_event_append, chain_append, chain_head_lock, pace
from records.models import AccessEvent

T0 = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def expected(times: list[datetime], n: int) -> list[tuple[float, float] | None]:
    """Each request's (mean, population standard deviation) of the gaps of the n requests ending with it."""
    figures: list[tuple[float, float] | None] = []
    for i in range(len(times)):
        if i + 1 < n:
            figures.append(None)
            continue
        window = times[i + 1 - n : i + 1]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(window)]
        figures.append((statistics.mean(gaps), statistics.pstdev(gaps)))
    return figures


def stored(actor) -> list[tuple[float, float] | None]:
    rows = AccessEvent.objects.filter(actor=actor).order_by("actor_seq").values_list("pace_mean", "pace_sd")
    return [None if mean is None else (mean, sd) for mean, sd in rows]


def assert_paces(actual, wanted):
    assert len(actual) == len(wanted)
    for got, want in zip(actual, wanted, strict=True):
        assert (got is None) == (want is None), (got, want)
        if want is not None:
            assert got == pytest.approx(want, abs=1e-9)


def test_pace_is_the_mean_and_spread_of_the_latest_gaps(settings):
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 4
    gaps = [7.5, 3.25, 12.0, 4.0, 0.000001, 9.0]
    times = [T0]
    for gap in gaps:
        times.append(times[-1] + timedelta(seconds=gap))
    recent, figures = (), []
    for at in times:
        recent, paced = pace(recent, at)
        figures.append(None if paced == (None, None) else paced)
    assert_paces(figures, expected(times, 4))
    assert recent == tuple(map(micros, times[-4:]))  # only the latest 4 are kept


def test_equal_gaps_have_no_spread_and_a_shorter_chain_no_pace(settings):
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 3
    first = pace((), T0)
    second = pace(first[0], T0 + timedelta(seconds=20))
    third = pace(second[0], T0 + timedelta(seconds=40))
    assert first[1] == second[1] == (None, None)
    assert third[1] == (20.0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_every_append_path_keeps_the_chains_pace(world, settings):
    """The one-statement append, the locked path (record look-ups) and another connection's appends, mixed in
    one chain: every event's figures are those of its chain's times, and the head holds the latest ones."""
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 5
    fields = {"action": "view", "outcome": "allowed", "purpose": "due_dose"}
    for _ in range(4):
        access_event_append(actor=world.worker, **fields)  # the first locks the head; the rest swap it
    with transaction.atomic():
        chain_append(chain_head_lock(world.worker.pk), **fields)  # a look-up's path

    def elsewhere():
        try:
            for _ in range(3):
                access_event_append(actor=world.worker, **fields)
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(30)
    for _ in range(4):
        access_event_append(actor=world.worker, **fields)  # a stale guess first: the lock, then swaps again
    chain = AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq")
    times = list(chain.values_list("created_at", flat=True))
    assert len(times) == 12
    assert_paces(stored(world.worker), expected(times, 5))
    assert chain_head_lock(world.worker.pk).recent == tuple(map(micros, times[-4:]))  # what the next one needs


@pytest.mark.django_db(transaction=True)
def test_a_lock_that_waited_for_another_writer_reads_its_event_too(world, settings):
    """A lock that waits for another writer's returns the head that writer left, but the subqueries of
    the same statement see the chain as it was when the statement began; the times are read again then."""
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 3
    fields = {"action": "view", "outcome": "allowed", "purpose": "due_dose"}
    for _ in range(3):
        access_event_append(actor=world.worker, **fields)
    found, errors = {}, []

    def lock_in_another_thread():
        try:
            with transaction.atomic():
                found["head"] = chain_head_lock(world.worker.pk)  # waits for the writer below, then reads
        except Exception as error:  # reported below
            errors.append(repr(error))
        finally:
            connections.close_all()

    writer = connections.create_connection("default")
    try:
        writer.set_autocommit(False)
        with writer.cursor() as cursor:  # another writer holds the head and appends one event
            cursor.execute("SELECT seq FROM records_accesschainhead WHERE actor_id = %s FOR UPDATE", [world.worker.pk])
            cursor.execute(
                "INSERT INTO records_accessevent (created_at, actor_id, actor_seq, action, outcome, purpose, "
                "detail, prev_hash, hash) VALUES (now(), %s, 4, 'view', 'allowed', 'x', '{}', 'p', 'h')",
                [world.worker.pk],
            )
            cursor.execute("UPDATE records_accesschainhead SET seq = 4 WHERE actor_id = %s", [world.worker.pk])
        thread = threading.Thread(target=lock_in_another_thread)
        thread.start()
        thread.join(0.5)  # the lock statement has begun, and waits
        writer.commit()
        thread.join(10)
    finally:
        writer.close()
    assert errors == [] and not thread.is_alive()
    head = found["head"]
    chain = AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq")
    times = list(chain.values_list("created_at", flat=True))
    assert head.seq == 4 and head.recent == tuple(map(micros, times[-2:]))
