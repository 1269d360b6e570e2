"""The pace each append keeps for the cadence rule: the mean and spread of the gaps between the chain's latest
requests, the same on every append path, and given to existing chains by the migration."""

from __future__ import annotations

import importlib
import itertools
import statistics
import struct
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection, connections, transaction
from freezegun import freeze_time

from records.audit import access_event_append, chain_append, chain_head_lock, pace
from records.models import AccessChainHead, AccessEvent

T0 = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def packed(times: list[datetime]) -> bytes:
    return struct.pack(f"<{len(times)}q", *map(micros, times))


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
    recent, figures = b"", []
    for at in times:
        recent, paced = pace(recent, at)
        figures.append(None if paced == (None, None) else paced)
    assert_paces(figures, expected(times, 4))
    assert recent == packed(times[-4:])  # only the latest 4 are kept


def test_equal_gaps_have_no_spread_and_a_shorter_chain_no_pace(settings):
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 3
    first = pace(b"", T0)
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
    assert bytes(AccessChainHead.objects.get(actor=world.worker).recent) == packed(times[-5:])


@pytest.mark.django_db
def test_the_migration_gives_existing_chains_their_latest_times(world, settings):
    settings.PRAHARI_ANOMALY_CADENCE_REQUESTS = 3
    for n in range(5):
        with freeze_time(T0 + timedelta(seconds=10 * n)):
            access_event_append(actor=world.worker, action="search", outcome="allowed", purpose="due_dose")
    with freeze_time(T0):
        access_event_append(actor=world.colleague, action="view", outcome="allowed", purpose="due_dose")
    AccessChainHead.objects.update(recent=b"")  # as a head was before the migration
    migration = importlib.import_module("records.migrations.0010_cadence_pace_at_append")

    class Editor:  # what the data step reads of the schema editor
        connection = connection

    migration.heads_remember_their_latest_requests(apps, Editor())
    heads = {actor: bytes(recent) for actor, recent in AccessChainHead.objects.values_list("actor_id", "recent")}
    assert heads[world.worker.pk] == packed([T0 + timedelta(seconds=s) for s in (20, 30, 40)])
    assert heads[world.colleague.pk] == packed([T0])
    with freeze_time(T0 + timedelta(seconds=50)):
        event = access_event_append(actor=world.worker, action="search", outcome="allowed", purpose="due_dose")
    assert (event.pace_mean, event.pace_sd) == (10.0, 0.0)  # the next append has its pace at once
