"""How far a governance job has read the append-only logs, and reading their ends without skipping an event.

Ids come from a sequence when a row is inserted, so a transaction can still be about to commit an id
below the largest id already visible. A job reads the ends (`log_ends`), then waits (`older_writers_gone`,
up to PRAHARI_ANOMALY_WRITER_WAIT_SECONDS) until no transaction begun before that read still holds a write
lock on either log: every id up to the ends was taken by such a transaction, so once they are gone every
such id is visible or never will be. A job that cannot wait keeps its watermarks and tries again next run.
The watermark rows (records.AnomalyWatermark) are locked for the job's transaction and moved in it.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import AccountEvent
from records.models import AccessEvent, AnomalyWatermark


def watermarks_lock(streams) -> dict[str, int]:
    """Lock the watermark rows of `streams` for this transaction; {stream: last id judged} (0 for a new one)."""
    rows = {
        w.stream: w.last_id
        for w in AnomalyWatermark.objects.select_for_update().filter(stream__in=streams).order_by("stream")
    }
    missing = [s for s in streams if s not in rows]
    if missing:  # a database set up before its migration's data step ran (tests flush it), or an empty one
        AnomalyWatermark.objects.bulk_create([AnomalyWatermark(stream=s) for s in missing], ignore_conflicts=True)
        rows.update(dict.fromkeys(missing, 0))
    return rows


def watermarks_move(ends: dict[str, int]) -> None:
    """Move each stream's watermark to its end (in the job's transaction)."""
    now = timezone.now()
    for stream, last_id in ends.items():
        AnomalyWatermark.objects.filter(stream=stream).update(last_id=last_id, updated_at=now)


def log_ends() -> tuple[int, int, datetime]:
    """The largest id of each log now (access events, account events), and the database clock just after."""
    events, accounts = AccessEvent._meta.db_table, AccountEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MAX(id) FROM {events}), (SELECT MAX(id) FROM {accounts}), clock_timestamp()")
        row = cursor.fetchone()
    return row[0] or 0, row[1] or 0, row[2]


def older_writers_gone(read_at: datetime) -> bool:
    """Wait until no other transaction begun before `read_at` holds a write lock on either log.

    pg_locks lists the locks of every database of the server, and a relation's oid is unique only within
    its database (a copy made from this one as a template has the same oids): only this database's count.
    """
    tables = ", ".join(f"'{m._meta.db_table}'::regclass" for m in (AccessEvent, AccountEvent))
    sql = f"""
        SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND l.relation IN ({tables}) AND l.mode = 'RowExclusiveLock'
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.granted AND l.pid <> pg_backend_pid() AND a.xact_start <= %s
    """
    deadline = time.monotonic() + settings.PRAHARI_ANOMALY_WRITER_WAIT_SECONDS
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [read_at])
            if cursor.fetchone()[0] == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
