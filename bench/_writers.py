"""P5's writers (bench/records.py): forked processes, each with its own connection and its own worker's chain.

What each writer does per event, every event its own transaction:
  read       the record page's read path, `record_get_for_viewer` (records/services.py), as the view calls
             it: BEGIN, the worker's chain head locked (the daily budget exact), the record found with what
             explains the look-up, the canary and scope checks, the `view` event and the head in one
             statement, the doses read, COMMIT; the records are the writer's facility's, read in turn;
  append     `access_event_append` outside a transaction: one statement that moves the head this process
             wrote last (compare-and-swap) and inserts the event (no production path calls it: appends
             without a budget); the locked path for a process's first event (its untimed warm-up);
  unchained  the same row as an append inserted by one prepared statement in autocommit, with no head and
             no hash (the baseline).
"""

from __future__ import annotations

import multiprocessing
import queue
import time

MODES = ("read", "append", "unchained")
UNCHAINED_FROM = 10**9  # the unchained rows' actor_seq, out of every chain's way
RECORDS = 32  # records the writers read in turn
PURPOSE = "due_dose"  # a purpose the consent step lets through without a query, as most look-ups are
IP = "10.0.0.7"


def writers_make(count: int) -> list[tuple[int, int]]:
    """`count` workers of one facility, each with an approved device, and RECORDS records of that facility
    with two doses each; return the (worker id, device id) pairs."""
    from datetime import date

    from accounts.models import RegisteredDevice
    from accounts.services.devices import device_token_hash, device_token_new
    from bench.records import _place_and_worker
    from records.models import Beneficiary, Dose

    writers = []
    for n in range(count):
        facility, user = _place_and_worker(f"bench.writer{n:02d}")
        device, _ = RegisteredDevice.objects.get_or_create(
            user=user,
            code=f"BENCHW{n:02d}",
            defaults={"token_hash": device_token_hash(device_token_new()), "label": "bench", "status": "approved"},
        )
        writers.append((user.pk, device.pk))
    for n in range(RECORDS):
        record, created = Beneficiary.objects.get_or_create(
            reference_id=f"1000000000{5000 + n:04d}",
            defaults={
                "name": f"Beneficiary {n}",
                "year_of_birth": 1960 + n,
                "gender": "F" if n % 2 else "M",
                "id_type": "aadhaar",
                "id_number": f"1234{n:08d}",
                "mobile": f"+9198765{n:05d}",
                "facility": facility,
            },
        )
        if created:
            for dose, day in enumerate((date(2021, 6, 1), date(2021, 9, 1)), start=1):
                Dose.objects.create(
                    beneficiary=record, vaccine="Covishield", dose_number=dose, given_on=day, facility=facility
                )
    return writers


def reference_id(n: int) -> str:
    return f"1000000000{5000 + n % RECORDS:04d}"


def _writer(writer: tuple[int, int], count: int, mode: str, first: int, start, results) -> None:
    """One writer process: `count` events of `mode`, one transaction each, after every writer is ready."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from records.audit import access_event_append, event_content
    from records.services import Viewer, record_get_for_viewer
    from records.statements import event_row, prepared_cursor, statements_for

    connection.close()  # never share the parent's connection across a fork
    insert = statements_for(connection)["insert"]
    actor = User.objects.select_related("facility__district").get(pk=writer[0])
    viewer = Viewer(user=actor, ip=IP, device_id=writer[1])
    fields = {"action": "view", "outcome": "allowed", "purpose": PURPOSE, "ip_address": IP, "detail": {}}
    placeholder = "0" * 64  # as wide as a hash, so the rows are the same size
    offset = writer[0]  # writers start on different records

    def event(n: int) -> None:
        if mode == "read":
            record_get_for_viewer(viewer=viewer, reference_id=reference_id(offset + n), purpose=PURPOSE)
        elif mode == "append":
            access_event_append(actor=actor, **fields)
        else:
            at, pace = timezone.now(), (240.0, 60.0)  # as wide as the chained rows' figures
            row = event_row(connection, at, actor.pk, first + n, event_content(fields), placeholder, placeholder, pace)
            with prepared_cursor(connection) as cursor:
                cursor.execute(insert, row)

    event(count)  # untimed: a long-lived server process has connected, prepared and loaded all this already
    start.wait()
    started = time.perf_counter()
    for n in range(count):
        event(n)
    results.put(time.perf_counter() - started)
    connection.close()


def throughput(writers: list[tuple[int, int]], per_writer: int, mode: str, first: int = 0) -> float:
    """Events per second of all writers together (total events / wall time of the slowest writer). Each
    writer makes one more event first, untimed (an unchained one numbered `first + per_writer`)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(writers)), context.Queue()
    processes = [context.Process(target=_writer, args=(w, per_writer, mode, first, start, results)) for w in writers]
    for process in processes:
        process.start()
    elapsed, deadline = [], time.monotonic() + 600
    while len(elapsed) < len(processes):  # a writer that died fails the figure now, not after the timeout
        try:
            elapsed.append(results.get(timeout=1))
        except queue.Empty:
            if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in processes):
                for process in processes:
                    process.kill()
                raise RuntimeError("a writer process failed or timed out (see its traceback above)") from None
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise RuntimeError(f"a writer process failed (exit {process.exitcode})")
    return len(writers) * per_writer / max(elapsed)
