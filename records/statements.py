"""The access log's append statements and their plumbing: SQL prepared once per connection (unless the
connection's DATABASES entry says PREPARED_STATEMENTS False: a transaction-mode pooler in front, docs/database.md).

The append path (records/audit.py) is plain SQL through Django's connection: it runs on every record
look-up, and the ORM's per-statement work was most of its cost (bench P5). Values are adapted as the
models' own fields adapt them, so what is stored is exactly what the ORM would store. Table and column
names come from the models, never from input.
"""

from __future__ import annotations

import functools
import sys

from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

from records.models import AccessChainHead, AccessEvent

EVENT_COLUMNS = (
    "created_at",
    "actor_id",
    "actor_seq",
    "action",
    "outcome",
    "beneficiary_id",
    "purpose",
    "detail",
    "ip_address",
    "device_id",
    "prev_hash",
    "hash",
    "pace_mean",
    "pace_sd",
)
HEAD_COUNTS = ("day", "lookups", "reveals")
_ATTNAMES = tuple(f.attname for f in AccessEvent._meta.concrete_fields)


def _statements(connection) -> dict[str, str]:
    """The append path's statements (table and column names come from the models, never from input)."""
    events, heads = AccessEvent._meta.db_table, AccessChainHead._meta.db_table
    placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
    insert = f"INSERT INTO {events} ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders}) RETURNING id"
    update = f"UPDATE {heads} SET seq = %s, hash = %s, day = %s, lookups = %s, reveals = %s WHERE actor_id = %s"
    # The optimistic append moves the head only from the (seq, hash) this process last wrote: the hash in
    # the condition, not only the number, so a head that was reset or rolled back is never linked to.
    swap = f"UPDATE {heads} SET seq = %s, hash = %s WHERE actor_id = %s AND seq = %s AND hash = %s"
    # The lock also reads the times of the chain's latest requests (for the pace), newest first, and its newest
    # sequence number, in the same statement: a look-up makes no extra round trip. Both come from one read of
    # the chain's latest events: the log is partitioned by month, and each read of it by actor and sequence
    # looks into every partition. The times come as whole microseconds (EXTRACT's numeric is exact).
    latest = f"""SELECT array_agg(l.t ORDER BY l.s DESC), MAX(l.s) FROM (
                   SELECT CAST(EXTRACT(EPOCH FROM e.created_at) * 1000000 AS BIGINT) AS t, e.actor_seq AS s
                   FROM {events} e WHERE e.actor_id = h.actor_id ORDER BY e.actor_seq DESC LIMIT %s) l"""
    # One statement, so one transaction in autocommit: the head moves and the event is inserted, or neither
    # (no row back: the remembered head was stale). Parameters in a SELECT list have no column to take their
    # type from, hence the casts (without a length: a value too long is refused by the column, as in the
    # plain INSERT, never cut to fit).
    fields = [AccessEvent._meta.get_field(c) for c in EVENT_COLUMNS]
    casts = ", ".join(f"CAST(%s AS {f.db_type(connection).split('(')[0]})" for f in fields)
    return {
        "lock": f"SELECT h.seq, h.hash, h.day, h.lookups, h.reveals, r.times, r.newest FROM {heads} h "
        f"CROSS JOIN LATERAL ({latest}) r (times, newest) WHERE h.actor_id = %s FOR UPDATE OF h",
        "latest": f"SELECT actor_seq, created_at FROM {events} WHERE actor_id = %s ORDER BY actor_seq DESC LIMIT %s",
        "create": f"INSERT INTO {heads} (actor_id, seq, hash, lookups, reveals) VALUES (%s, 0, %s, 0, 0) "
        "ON CONFLICT (actor_id) DO NOTHING",
        "insert": insert,
        # The event and its head in one statement (one round trip fewer per look-up).
        "append": f"WITH event AS ({insert}) {update} RETURNING (SELECT id FROM event)",
        "swap_append": f"WITH head AS ({swap} RETURNING actor_id) "
        f"INSERT INTO {events} ({', '.join(EVENT_COLUMNS)}) SELECT {casts} FROM head RETURNING id",
    }


_STATEMENTS: dict[str, str] = {}


def statements_for(connection) -> dict[str, str]:
    if not _STATEMENTS:
        _STATEMENTS.update(_statements(connection))
    return _STATEMENTS


def prepares(connection) -> bool:
    """Whether the append statements are prepared on `connection`: yes, unless its DATABASES entry sets
    PREPARED_STATEMENTS to False (PRAHARI_DB_POOLER=transaction does: a prepared statement lives in one server
    session, and a transaction-mode pooler runs the next statement in whichever session is free)."""
    return bool(connection.settings_dict.get("PREPARED_STATEMENTS", True))


@functools.cache
def _server_binding_cursor_class(prepare: bool):
    from django.db.backends.postgresql.base import ServerBindingCursor

    class AppendCursor(ServerBindingCursor):
        """Parameters bound on the server (the statements' casts are written for that) and every statement
        prepared: parsed and planned once per connection, then only executed. With `prepare` False none is:
        each is sent as an unnamed statement, parsed and planned with its values in the same round trip.
        (Django binds on the client and prepares nothing by default.)"""

        prepared = prepare

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=self.prepared, binary=binary)

    return AppendCursor


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a prepared statement's text (psycopg keeps none for a prepared execution, so Django's usual
    last_executed_query would log None); the values are in the debug log's args, as for any statement."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params, use_last_executed_query=False):
            return CursorWrapper.execute(self, sql, params)


def prepared_cursor(connection):
    """A cursor for the append path's statements: a prepared-statement cursor (see `prepares`), still wrapped by
    Django: query logging, execute wrappers and error translation (DatabaseError) apply as to any other."""
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    connection.close_if_health_check_failed()  # as connection.cursor() does (CONN_HEALTH_CHECKS)
    connection.ensure_connection()
    raw_connection = connection.connection
    prepare = prepares(connection)
    if prepare and raw_connection.prepare_threshold is None:
        # Django turns psycopg's automatic preparing off (prepare_threshold None), which also ignores an
        # explicit prepare. A threshold no statement reaches keeps everything else unprepared, as before.
        raw_connection.prepare_threshold = sys.maxsize
    with connection.wrap_database_errors:
        raw = _server_binding_cursor_class(prepare)(raw_connection)
    return _PreparedDebugWrapper(raw, connection) if connection.queries_logged else connection.make_cursor(raw)


def values_prepared(connection, model, names, values) -> list:
    return [
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in zip(names, values, strict=True)
    ]


def event_row(
    connection, created_at, actor_id: int, seq: int, content: dict, prev_hash: str, digest: str, pace
) -> list:
    """An event's values in EVENT_COLUMNS order, adapted for `connection` as the model's fields adapt them
    (`pace`: the event's (pace_mean, pace_sd))."""
    ops = connection.ops
    return [
        ops.adapt_datetimefield_value(created_at),
        actor_id,
        seq,
        content["action"],
        content["outcome"],
        content["beneficiary_id"],
        content["purpose"],
        AccessEvent._meta.get_field("detail").get_db_prep_save(content["detail"], connection),
        ops.adapt_ipaddressfield_value(content["ip_address"]),
        content["device_id"],
        prev_hash,
        digest,
        *pace,
    ]


def event_loaded(
    connection, pk: int, created_at, actor_id: int, seq: int, content: dict, prev_hash: str, digest: str, pace
):
    """The appended event as the ORM would load it (from_db: every field, in order, no keyword parsing)."""
    values = {"id": pk, "created_at": created_at, "actor_id": actor_id, "actor_seq": seq, **content}
    values.update(prev_hash=prev_hash, hash=digest, pace_mean=pace[0], pace_sd=pace[1])
    return AccessEvent.from_db(connection.alias, _ATTNAMES, [values[name] for name in _ATTNAMES])
