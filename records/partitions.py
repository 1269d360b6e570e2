"""The access log's monthly partitions: made ahead of time, stray rows moved in, expired months dropped after a cut.

`records_accessevent` is partitioned by range on `created_at` (migration records/0018): one partition per
calendar month in UTC, `records_accessevent_pYYYYMM`, and a default partition that takes any row outside them,
so an append never fails for want of a month. The `partitions` governance job (daily) keeps a partition for
every month from the retention cut's to PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD months after the current one, so
the default stays empty; rows found in it anyway (the job stopped for months, an import of old events) are
moved into partitions made for their months.

Retention drops whole months that ended more than PRAHARI_ACCESS_LOG_RETENTION_DAYS ago, never single rows (the
append-only trigger refuses DELETE). Before a month goes, the job writes its cut: a signed checkpoint file
(records/checkpoints.py, with `cut` in its header) holding, for each actor with events in it, the sequence
number and hash of the last of them. `verify_audit` starts each chain whose older events are gone from its
cut (records/audit.py `chains_walk`). The month is dropped only if every chain goes on from it without a
gap: the actor's next event left is the one after the cut, linked to it. The explanations of its look-ups
(records.AccessExplanation, whose link to the event has no database constraint on a partitioned table) are
deleted in the same transaction.

DDL waits at most LOCK_TIMEOUT for its locks, so appends never queue long behind it: a run that cannot get
them fails and the next one tries again (the default partition takes the appends meanwhile).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from records.checkpoints import checkpoint_write
from records.models import AccessChainHead, AccessEvent, AccessExplanation

TABLE = AccessEvent._meta.db_table
DEFAULT = f"{TABLE}_default"
_MONTHLY = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")
LOCK_TIMEOUT = "5s"

# --- Months (used by migration records/0018: keep these stable) ---------------------------------------------


def month_of(at: datetime) -> datetime:
    """The first instant (UTC) of the month `at` falls in."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def month_after(month: datetime, months: int = 1) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{TABLE}_p{month:%Y%m}"


def partition_create_sql(month: datetime) -> str:
    """The statement that makes `month`'s partition (bounds are UTC instants: the lower one included)."""
    return (
        f"CREATE TABLE {partition_name(month)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{month_after(month).isoformat()}')"
    )


def default_create_sql() -> str:
    return f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT"


def retention_cut(now: datetime) -> datetime:
    """The time before which events may go: PRAHARI_ACCESS_LOG_RETENTION_DAYS before `now`."""
    days = settings.PRAHARI_ACCESS_LOG_RETENTION_DAYS
    if not isinstance(days, int) or days < 1:
        raise ImproperlyConfigured(f"PRAHARI_ACCESS_LOG_RETENTION_DAYS={days!r} is not a positive number of days")
    return now - timedelta(days=days)


def months_kept(now: datetime) -> list[datetime]:
    """The months that have a partition at `now`: from the retention cut's to PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD
    months after now's."""
    month, last = month_of(retention_cut(now)), month_after(month_of(now), settings.PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD)
    months = []
    while month <= last:
        months.append(month)
        month = month_after(month)
    return months


# --- The job -------------------------------------------------------------------------------------------------


def partitions(*, now: datetime, dry_run: bool = False) -> dict:
    """Make the missing months' partitions (moving rows of the default partition into theirs), then drop the
    months past retention, oldest first, each after writing its cut. Idempotent: a second run does nothing.
    A dry run reports what it would do and changes nothing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
        present, has_default = _months_present(cursor)
        stray = _default_months(cursor) if has_default else {}
        missing = sorted((set(months_kept(now)) | set(stray)) - present)
        cut = retention_cut(now)
        expired = sorted(m for m in present | set(missing) if month_after(m) <= cut)
        summary = {
            "created": [partition_name(m) for m in missing],
            "moved_from_default": sum(stray.values()),
            "dropped": [],
            "cut_files": [],
        }
        if dry_run:
            return {**summary, "dropped": [partition_name(m) for m in expired]}
        if not has_default:
            cursor.execute(default_create_sql())
            summary["created"].append(DEFAULT)
        _create(cursor, missing, moving=bool(stray))
        for month in expired:
            held_back = _drop(cursor, month, now, summary)
            if held_back:
                summary["held_back"] = held_back
                break
    return summary


def _months_present(cursor) -> tuple[set[datetime], bool]:
    """The months that have a partition, and whether the default partition is there."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [TABLE],
    )
    names = [name for (name,) in cursor.fetchall()]
    found = (_MONTHLY.match(name) for name in names)
    return {datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC) for m in found if m}, DEFAULT in names


def _default_months(cursor) -> dict[datetime, int]:
    """{month: rows} of the rows in the default partition (none, while the job keeps up)."""
    cursor.execute(f"SELECT date_trunc('month', created_at, 'UTC'), COUNT(*) FROM ONLY {DEFAULT} GROUP BY 1")  # noqa: S608
    return {month_of(month): count for month, count in cursor.fetchall()}


def _create(cursor, months: list[datetime], *, moving: bool) -> None:
    """Make the partitions of `months`. When the default partition holds rows (`moving`), it is detached
    first, a new one made, and its rows inserted again through the parent (each into its month) before the
    old one is dropped: a partition cannot be made over rows the default holds, and rows are never deleted."""
    if not months:
        return
    if not moving:
        for month in months:
            cursor.execute(partition_create_sql(month))
        return
    columns = ", ".join(f.column for f in AccessEvent._meta.concrete_fields)
    cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {DEFAULT}")
    cursor.execute(f"ALTER TABLE {DEFAULT} RENAME TO {DEFAULT}_moving")
    for month in months:
        cursor.execute(partition_create_sql(month))
    cursor.execute(default_create_sql())
    cursor.execute(
        f"INSERT INTO {TABLE} ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608 (names from the model)
        f"SELECT {columns} FROM {DEFAULT}_moving ORDER BY id"
    )
    _table_drop(cursor, f"{DEFAULT}_moving")


def _table_drop(cursor, name: str) -> None:
    """Drop the (detached) table `name`. Rows inserted into it earlier in this transaction still have their
    deferred foreign-key checks pending, which PostgreSQL refuses to drop a table under: run them first, then
    defer again (every deferrable constraint here is initially deferred, as Django makes foreign keys)."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(f"DROP TABLE {name}")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# Each actor with events in the partition: its last event there, and its first event outside it (if any).
_CUT = f"""
    SELECT h.actor_id, last.actor_seq, last.hash, next.actor_seq, next.prev_hash
      FROM {AccessChainHead._meta.db_table} h
     CROSS JOIN LATERAL (
           SELECT p.actor_seq, p.hash FROM {{partition}} p
            WHERE p.actor_id = h.actor_id ORDER BY p.actor_seq DESC LIMIT 1) last
      LEFT JOIN LATERAL (
           SELECT e.actor_seq, e.prev_hash FROM {TABLE} e
            WHERE e.actor_id = h.actor_id AND (e.created_at < %(lower)s OR e.created_at >= %(upper)s)
            ORDER BY e.actor_seq LIMIT 1) next ON TRUE
     ORDER BY h.actor_id
"""  # noqa: S608 (names from the models)


def _drop(cursor, month: datetime, now: datetime, summary: dict) -> str | None:
    """Write `month`'s cut, delete its explanations, detach and drop its partition; or, when a chain does not
    go on from the cut without a gap, keep it and return why."""
    name, upper = partition_name(month), month_after(month)
    cursor.execute(f"LOCK TABLE {name} IN SHARE MODE")  # nothing is appended to it meanwhile
    cursor.execute(_CUT.format(partition=name), {"lower": month, "upper": upper})
    rows = cursor.fetchall()
    broken = [
        actor for actor, seq, digest, after, link in rows if after is not None and (after, link) != (seq + 1, digest)
    ]
    if broken:
        return (
            f"{name} kept: the chains of actors {', '.join(map(str, broken[:10]))} do not go on from its last "
            "events without a gap (run verify_audit)"
        )
    summary["cut_files"].append(checkpoint_write(entries=[row[:3] for row in rows], at=now, cut=upper)[0])
    cursor.execute(f"SELECT MAX(id) FROM {name}")  # noqa: S608
    (last_id,) = cursor.fetchone()
    if last_id is not None:
        cursor.execute(
            f"DELETE FROM {AccessExplanation._meta.db_table} WHERE event_id <= %s AND event_at < %s",  # noqa: S608
            [last_id, upper],
        )
    cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
    _table_drop(cursor, name)
    summary["dropped"].append(name)
    return None
