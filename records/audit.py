"""The access log's hash chain: append one event, verify them all.

Design (README §Access log): one chain per actor. Each event stores `prev_hash` (the previous event
of the same actor, or a per-actor genesis value) and `hash` = HMAC-SHA-256(audit key, prev_hash +
canonical content). A head row per actor holds the last sequence number and hash; an append locks
only its own actor's head, so concurrent workers never queue on one lock. `verify` walks every
chain: an edited row breaks its hash, a deleted or inserted row breaks the sequence or the next
link, a deleted last row leaves the head ahead of the chain. The key (PRAHARI_AUDIT_KEY, or one
derived from DJANGO_SECRET_KEY) keeps someone with only database access from re-forging a chain.
Deleting the latest events and winding the head back leaves a valid chain: the signed checkpoints
kept outside the database (records/checkpoints.py) are what `verify` catches that with.

Two ways to append (bench P5). A record look-up locks the head (SELECT … FOR UPDATE), reads its
sequence, hash and daily counts, and writes the event and the head in one statement, all in the
request's transaction: the lock is what makes the daily budget exact. An append outside any
transaction (`access_event_append`) needs no counts, so when its connection wrote that actor's last
event it is one statement, its own transaction: the connection remembers the (seq, hash) it wrote and
moves the head from exactly that pair, inserting the event only if the head moved (a compare-and-swap).
If anything else wrote since, or the remembered event was rolled back, no row changes and the append
takes the locked path. The append statements are prepared once per connection.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import math
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils import timezone

from records.models import AccessChainHead, AccessEvent


def _key() -> bytes:
    explicit = getattr(settings, "PRAHARI_AUDIT_KEY", None)
    if explicit:
        return explicit.encode()
    return hashlib.sha256(f"prahari.access-chain:{settings.SECRET_KEY}".encode()).digest()


def sign(data: bytes) -> str:
    """HMAC-SHA-256 of `data` under the audit key, as hex: a checkpoint file's signature (records/checkpoints.py)."""
    return hmac.new(_key(), data, hashlib.sha256).hexdigest()


def genesis(actor_id: int) -> str:
    """The `prev_hash` of an actor's first event."""
    return hmac.new(_key(), f"genesis:{actor_id}".encode(), hashlib.sha256).hexdigest()


# What an event's hash covers besides its actor, sequence number and time: the caller's fields.
_CONTENT = ("action", "outcome", "beneficiary_id", "purpose", "detail", "ip_address", "device_id")


def _canonical(actor_id: int, seq: int, created_at, content) -> str:
    return json.dumps(
        {
            "actor": actor_id,
            "seq": seq,
            "at": created_at.astimezone(UTC).isoformat(),
            "action": content["action"],
            "outcome": content["outcome"],
            "beneficiary": content["beneficiary_id"],
            "purpose": content["purpose"],
            "detail": content["detail"],
            "ip": content["ip_address"],
            "device": content["device_id"],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def canonical(event: AccessEvent) -> str:
    """The content a hash covers, as stable text (sorted keys, UTC times, ids not objects)."""
    return _canonical(event.actor_id, event.actor_seq, event.created_at, {n: getattr(event, n) for n in _CONTENT})


def _link(prev_hash: str, text: str) -> str:
    return hmac.new(_key(), f"{prev_hash}\n{text}".encode(), hashlib.sha256).hexdigest()


def link_hash(prev_hash: str, event: AccessEvent) -> str:
    return _link(prev_hash, canonical(event))


def _content(fields: dict) -> dict:
    """The caller's fields (as AccessEvent takes them) as column values, exactly as they will be stored
    and read back: an IP address normalised (an empty one is NULL), related objects as their ids."""
    content = {"beneficiary_id": None, "purpose": "", "detail": {}, "ip_address": None, "device_id": None}
    for name, value in fields.items():
        if name in ("beneficiary", "device"):
            name, value = f"{name}_id", None if value is None else value.pk
        elif name not in _CONTENT:
            raise TypeError(f"an access event has no field {name!r}")
        content[name] = value
    if "action" not in content or "outcome" not in content:
        raise TypeError("an access event needs an action and an outcome")
    content["ip_address"] = AccessEvent._meta.get_field("ip_address").get_prep_value(content["ip_address"]) or None
    return content


# The append path is plain SQL (through Django's connection): it runs on every record look-up, and the
# ORM's per-statement work was most of its cost (bench P5). Values are adapted as the models' own
# fields adapt them, so what is stored is exactly what the ORM would store, and `canonical` reads the same.
_EVENT_COLUMNS = (
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
_HEAD_COUNTS = ("day", "lookups", "reveals")
_ATTNAMES = tuple(f.attname for f in AccessEvent._meta.concrete_fields)


def _statements(connection) -> dict[str, str]:
    """The append path's statements (table and column names come from the models, never from input)."""
    events, heads = AccessEvent._meta.db_table, AccessChainHead._meta.db_table
    placeholders = ", ".join(["%s"] * len(_EVENT_COLUMNS))
    insert = f"INSERT INTO {events} ({', '.join(_EVENT_COLUMNS)}) VALUES ({placeholders}) RETURNING id"
    update = f"UPDATE {heads} SET seq = %s, hash = %s, day = %s, lookups = %s, reveals = %s WHERE actor_id = %s"
    # The optimistic append moves the head only from the (seq, hash) this process last wrote: the hash in
    # the condition, not only the number, so a head that was reset or rolled back is never linked to.
    swap = f"UPDATE {heads} SET seq = %s, hash = %s WHERE actor_id = %s AND seq = %s AND hash = %s"
    # The lock also reads the times of the chain's latest requests (for the pace) and its newest sequence
    # number, in the same statement: a look-up makes no extra round trip. The times come as whole
    # microseconds (EXTRACT's numeric is exact).
    times = f"""ARRAY(SELECT CAST(EXTRACT(EPOCH FROM e.created_at) * 1000000 AS BIGINT) FROM {events} e
                WHERE e.actor_id = h.actor_id ORDER BY e.actor_seq DESC LIMIT %s)"""
    newest = f"(SELECT MAX(e.actor_seq) FROM {events} e WHERE e.actor_id = h.actor_id)"
    # One statement, so one transaction in autocommit: the head moves and the event is inserted, or neither
    # (no row back: the remembered head was stale). Parameters in a SELECT list have no column to take their
    # type from, hence the casts (without a length: a value too long is refused by the column, as in the
    # plain INSERT, never cut to fit).
    fields = [AccessEvent._meta.get_field(c) for c in _EVENT_COLUMNS]
    casts = ", ".join(f"CAST(%s AS {f.db_type(connection).split('(')[0]})" for f in fields)
    return {
        "lock": f"SELECT h.seq, h.hash, h.day, h.lookups, h.reveals, {times}, {newest} FROM {heads} h "
        "WHERE h.actor_id = %s FOR UPDATE",
        "latest": f"SELECT actor_seq, created_at FROM {events} WHERE actor_id = %s ORDER BY actor_seq DESC LIMIT %s",
        "create": f"INSERT INTO {heads} (actor_id, seq, hash, lookups, reveals) VALUES (%s, 0, %s, 0, 0) "
        "ON CONFLICT (actor_id) DO NOTHING",
        "insert": insert,
        # The event and its head in one statement (one round trip fewer per look-up).
        "append": f"WITH event AS ({insert}) {update} RETURNING (SELECT id FROM event)",
        "swap_append": f"WITH head AS ({swap} RETURNING actor_id) "
        f"INSERT INTO {events} ({', '.join(_EVENT_COLUMNS)}) SELECT {casts} FROM head RETURNING id",
    }


_STATEMENTS: dict[str, str] = {}


def _sql(connection) -> dict[str, str]:
    if not _STATEMENTS:
        _STATEMENTS.update(_statements(connection))
    return _STATEMENTS


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Parameters bound on the server and every statement prepared: parsed and planned once per
        connection, then only executed. (Django binds on the client and prepares nothing by default.)"""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparedCursor


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a prepared statement's text (psycopg keeps none for a prepared execution, so Django's usual
    last_executed_query would log None); the values are in the debug log's args, as for any statement."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params, use_last_executed_query=False):
            return CursorWrapper.execute(self, sql, params)


def _cursor(connection):
    """A cursor for the append path's statements: a prepared-statement cursor, still wrapped by Django: query
    logging, execute wrappers and error translation (DatabaseError) apply as to any other."""
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    connection.close_if_health_check_failed()  # as connection.cursor() does (CONN_HEALTH_CHECKS)
    connection.ensure_connection()
    raw_connection = connection.connection
    if raw_connection.prepare_threshold is None:
        # Django turns psycopg's automatic preparing off (prepare_threshold None), which also ignores an
        # explicit prepare. A threshold no statement reaches keeps everything else unprepared, as before.
        raw_connection.prepare_threshold = sys.maxsize
    with connection.wrap_database_errors:
        raw = _prepared_cursor_class()(raw_connection)
    return _PreparedDebugWrapper(raw, connection) if connection.queries_logged else connection.make_cursor(raw)


def _prepared(connection, model, names, values) -> list:
    return [
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in zip(names, values, strict=True)
    ]


def _row(connection, created_at, actor_id: int, seq: int, content: dict, prev_hash: str, digest: str, pace) -> list:
    """An event's values in _EVENT_COLUMNS order, adapted for `connection` as the model's fields adapt them
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


def _event(connection, pk: int, created_at, actor_id: int, seq: int, content: dict, prev_hash: str, digest: str, pace):
    """The appended event as the ORM would load it (from_db: every field, in order, no keyword parsing)."""
    values = {"id": pk, "created_at": created_at, "actor_id": actor_id, "actor_seq": seq, **content}
    values.update(prev_hash=prev_hash, hash=digest, pace_mean=pace[0], pace_sd=pace[1])
    return AccessEvent.from_db(connection.alias, _ATTNAMES, [values[name] for name in _ATTNAMES])


# --- The pace of the latest requests: the cadence rule's figures, kept at append -------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def pace(recent: tuple[int, ...], created_at: datetime) -> tuple[tuple[int, ...], tuple[float | None, float | None]]:
    """The chain's latest request times after a request at `created_at`, and that request's (pace_mean,
    pace_sd): the mean and population standard deviation of the gaps (seconds) between the chain's latest
    PRAHARI_ANOMALY_CADENCE_REQUESTS requests, (None, None) while there are fewer. `recent`: the times of the
    requests before it (microseconds since 1970-01-01 UTC, oldest first; more than needed are ignored).

    The cadence rule (governance/anomaly_rules.py) then reads each new event's figures instead of walking every
    chain in order: O(1) per request at append, nothing per request in the job. Times are whole
    microseconds and the sums integers, so the figures are exact up to the final division.
    """
    keep = _keep()
    times = (*recent[-(keep - 1) :], (created_at - _EPOCH) // _MICROSECOND)
    if len(times) < keep:
        return times, (None, None)
    n, span = keep - 1, times[-1] - times[0]  # the gaps add up to the span
    squares = sum((later - earlier) ** 2 for earlier, later in itertools.pairwise(times))
    variance = (n * squares - span * span) / (n * n * 1e12)  # exact integers until this division
    return times, (span / n / 1e6, math.sqrt(max(variance, 0.0)))


def _keep() -> int:
    return max(int(settings.PRAHARI_ANOMALY_CADENCE_REQUESTS), 2)


def _micros(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of a stored time."""
    return (value - _EPOCH) // _MICROSECOND


def _latest_times(raw, newest: int | None, seq: int) -> tuple[int, ...] | None:
    """The chain's latest request times as the lock statement read them (oldest first), or None when they
    are older than the head it locked: after waiting for another writer's lock, PostgreSQL returns the
    head as that writer left it, but its subqueries still see the chain as it was when the statement began."""
    if (newest or 0) != seq:
        return None
    if raw is None:
        return ()
    return tuple(reversed(raw))


# --- The heads a connection wrote last: the optimistic append's guess ------------------------------------

_REMEMBERED_MAX = 10_000  # actors per connection; past it the memory starts afresh


def _remembered(connection) -> dict[int, tuple[int, str, tuple[int, ...]]]:
    """{actor_id: (seq, hash, latest request times)} of the heads this connection last wrote. Only a guess: the
    append that uses one checks it against the head in the same statement, and falls back to the lock if it
    is stale."""
    heads = getattr(connection, "_prahari_chain_heads", None)
    if heads is None:
        heads = connection._prahari_chain_heads = {}
    return heads


def _remember(connection, actor_id: int, seq: int, digest: str, recent: tuple[int, ...]) -> None:
    heads = _remembered(connection)
    if len(heads) >= _REMEMBERED_MAX and actor_id not in heads:
        heads.clear()
    heads[actor_id] = (seq, digest, recent)


# --- Appending ---------------------------------------------------------------------------------------------


def chain_head_lock(actor_id: int) -> AccessChainHead:
    """Lock and return `actor_id`'s chain head (created at the genesis value on first use).

    Call inside a transaction; other actors' appends do not wait for it.
    """
    connection = transaction.get_connection()
    sql = _sql(connection)
    keep = _keep() - 1  # the requests before the next one
    with _cursor(connection) as cursor:
        cursor.execute(sql["lock"], [keep, actor_id])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(sql["create"], [actor_id, genesis(actor_id)])
            cursor.execute(sql["lock"], [keep, actor_id])
            row = cursor.fetchone()
        seq, last_hash, day, lookups, reveals, raw, newest = row
        recent = _latest_times(raw, newest, seq)
        if recent is None:  # rare: read them again, now that the other writer's event is visible
            cursor.execute(sql["latest"], [actor_id, keep])
            recent = tuple(_micros(at) for _n, at in reversed(cursor.fetchall()))
    head = AccessChainHead(actor_id=actor_id, seq=seq, hash=last_hash, day=day, lookups=lookups, reveals=reveals)
    head.recent = recent  # not a column: the chain's latest request times, for the next event's pace
    return head


def chain_append(head: AccessChainHead, **fields) -> AccessEvent:
    """Append one event after `head` (locked by chain_head_lock in this transaction) and save the head.

    The head's daily counts, changed by the caller beforehand, are saved in the same statement.
    """
    return _append_locked(transaction.get_connection(), head, _content(fields))


def _append_locked(connection, head: AccessChainHead, content: dict) -> AccessEvent:
    created_at, seq, prev_hash = timezone.now(), head.seq + 1, head.hash
    digest = _link(prev_hash, _canonical(head.actor_id, seq, created_at, content))
    recent, paced = pace(head.recent, created_at)
    row = _row(connection, created_at, head.actor_id, seq, content, prev_hash, digest, paced)
    counts = _prepared(connection, AccessChainHead, _HEAD_COUNTS, [head.day, head.lookups, head.reveals])
    head_values = [seq, digest, *counts, head.actor_id]
    sql = _sql(connection)
    with _cursor(connection) as cursor:
        cursor.execute(sql["append"], [*row, *head_values])
        found = cursor.fetchone()
    if found is None:
        raise DatabaseError(f"the chain head of actor {head.actor_id} is missing")
    head.seq, head.hash, head.recent = seq, digest, recent
    _remember(connection, head.actor_id, seq, digest, recent)  # kept even if this transaction rolls back: a guess
    return _event(connection, found[0], created_at, head.actor_id, seq, content, prev_hash, digest, paced)


def _append_swapped(
    connection, actor_id: int, seq: int, prev_hash: str, recent: tuple[int, ...], content: dict
) -> AccessEvent | None:
    """Append after the head (seq, prev_hash) this connection wrote last, if it is still the head; else None.
    `recent`: the chain's latest request times this connection remembers with it (the events up to that head
    never change, so the head's hash vouches for them)."""
    created_at, new_seq = timezone.now(), seq + 1
    digest = _link(prev_hash, _canonical(actor_id, new_seq, created_at, content))
    recent, paced = pace(recent, created_at)
    row = _row(connection, created_at, actor_id, new_seq, content, prev_hash, digest, paced)
    swap = [new_seq, digest, actor_id, seq, prev_hash]
    with _cursor(connection) as cursor:
        cursor.execute(_sql(connection)["swap_append"], [*swap, *row])
        found = cursor.fetchone()
    if found is None:
        _remembered(connection).pop(actor_id, None)
        return None
    _remember(connection, actor_id, new_seq, digest, recent)
    return _event(connection, found[0], created_at, actor_id, new_seq, content, prev_hash, digest, paced)


def access_event_append(*, actor, **fields) -> AccessEvent:
    """Append one event to `actor`'s chain (only that actor's head is involved). Fields as on AccessEvent.

    Outside a transaction, when this connection wrote the actor's last event, the append is one
    statement (its own transaction): the head moves from the remembered (seq, hash) to the new event's,
    and the event is inserted, or neither happens. Otherwise (inside a transaction, a first append, or
    another connection wrote since) the head is locked and read, as for a record look-up.
    """
    connection = transaction.get_connection()
    content = _content(fields)
    if not connection.in_atomic_block:
        remembered = _remembered(connection).get(actor.pk)
        if remembered is not None:
            event = _append_swapped(connection, actor.pk, *remembered, content)
            if event is not None:
                return event
    with transaction.atomic(using=connection.alias):
        return _append_locked(connection, chain_head_lock(actor.pk), content)


def _problems(events: Iterator[AccessEvent], heads: dict[int, AccessChainHead]) -> Iterator[tuple[int, str]]:
    actor, expected_seq, prev = None, 0, ""
    for event in events:
        if event.actor_id != actor:
            if actor is not None:
                yield from _head_problems(actor, expected_seq, prev, heads)
            actor, expected_seq, prev = event.actor_id, 0, genesis(event.actor_id)
        expected_seq += 1
        if event.actor_seq != expected_seq:
            yield event.pk, f"event {event.pk}: actor {actor} sequence {event.actor_seq}, expected {expected_seq}"
            return
        if event.prev_hash != prev:
            yield event.pk, f"event {event.pk}: does not link to the previous event of actor {actor}"
            return
        if not hmac.compare_digest(event.hash, link_hash(prev, event)):
            yield event.pk, f"event {event.pk}: its content does not match its hash (edited)"
            return
        prev = event.hash
        yield event.pk, ""
    if actor is not None:
        yield from _head_problems(actor, expected_seq, prev, heads)


def _head_problems(actor, last_seq, last_hash, heads) -> Iterator[tuple[int, str]]:
    head = heads.pop(actor, None)
    if head is None or head.seq != last_seq or head.hash != last_hash:
        recorded = head.seq if head else "none"
        yield -1, f"actor {actor}: the chain ends at {last_seq} but its head records {recorded} (events missing)"


def chains_verify(actor_ids: Iterable[int] | None = None) -> tuple[int, str | None]:
    """Check every chain (or only those of `actor_ids`) link by link and against its head; return how many
    events were checked and the first problem (None when every chain is whole). The signed checkpoints are
    checked after it (records/verification.py)."""
    heads, events = AccessChainHead.objects.all(), AccessEvent.objects.all()
    if actor_ids is not None:
        heads, events = heads.filter(actor_id__in=actor_ids), events.filter(actor_id__in=actor_ids)
    heads = {h.actor_id: h for h in heads}
    events = events.order_by("actor_id", "actor_seq").iterator(chunk_size=5000)
    checked = 0
    for _event_id, problem in _problems(events, heads):
        if problem:
            return checked, problem
        checked += 1
    for actor, head in heads.items():
        if head.seq:
            return checked, f"actor {actor}: its head records {head.seq} events but none are left"
    return checked, None
