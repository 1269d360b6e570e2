"""The access log's hash chain: append one event, verify them all.

Design (README §Access log): one chain per actor. Each event stores `prev_hash` (the previous event
of the same actor, or a per-actor genesis value) and `hash` = HMAC-SHA-256(audit key, prev_hash +
canonical content). A head row per actor holds the last sequence number and hash; an append locks
only its own actor's head, so concurrent workers never queue on one lock. `verify` walks every
chain: an edited row breaks its hash, a deleted or inserted row breaks the sequence or the next
link, a deleted last row leaves the head ahead of the chain. The key (PRAHARI_AUDIT_KEY, or one
derived from DJANGO_SECRET_KEY) keeps someone with only database access from re-forging a chain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from records.models import AccessChainHead, AccessEvent


def _key() -> bytes:
    explicit = getattr(settings, "PRAHARI_AUDIT_KEY", None)
    if explicit:
        return explicit.encode()
    return hashlib.sha256(f"prahari.access-chain:{settings.SECRET_KEY}".encode()).digest()


def genesis(actor_id: int) -> str:
    """The `prev_hash` of an actor's first event."""
    return hmac.new(_key(), f"genesis:{actor_id}".encode(), hashlib.sha256).hexdigest()


def canonical(event: AccessEvent) -> str:
    """The content a hash covers, as stable text (sorted keys, UTC times, ids not objects)."""
    return json.dumps(
        {
            "actor": event.actor_id,
            "seq": event.actor_seq,
            "at": event.created_at.astimezone(UTC).isoformat(),
            "action": event.action,
            "outcome": event.outcome,
            "beneficiary": event.beneficiary_id,
            "purpose": event.purpose,
            "detail": event.detail,
            "ip": event.ip_address,
            "device": event.device_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link_hash(prev_hash: str, event: AccessEvent) -> str:
    return hmac.new(_key(), f"{prev_hash}\n{canonical(event)}".encode(), hashlib.sha256).hexdigest()


# The append path is plain SQL (through Django's connection): it runs on every record look-up, and the
# ORM's per-statement work was most of its cost (bench P5). Values are prepared by the models' own
# fields, so what is stored is exactly what the ORM would store, and `canonical` reads the same.
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
)
_HEAD_COUNTS = ("day", "lookups", "reveals")


@functools.cache
def _statements(vendor: str, has_select_for_update: bool) -> dict[str, str]:
    """The append path's statements (table and column names come from the models, never from input)."""
    events, heads = AccessEvent._meta.db_table, AccessChainHead._meta.db_table
    placeholders = ", ".join(["%s"] * len(_EVENT_COLUMNS))
    lock = " FOR UPDATE" if has_select_for_update else ""
    insert = f"INSERT INTO {events} ({', '.join(_EVENT_COLUMNS)}) VALUES ({placeholders}) RETURNING id"
    update = f"UPDATE {heads} SET seq = %s, hash = %s, day = %s, lookups = %s, reveals = %s WHERE actor_id = %s"
    return {
        "lock": f"SELECT seq, hash, day, lookups, reveals FROM {heads} WHERE actor_id = %s{lock}",
        "create": f"INSERT INTO {heads} (actor_id, seq, hash, lookups, reveals) VALUES (%s, 0, %s, 0, 0) "
        "ON CONFLICT (actor_id) DO NOTHING",
        "insert": insert,
        "update": update,
        # PostgreSQL: the event and its head in one statement (one round trip fewer per look-up).
        "append": f"WITH event AS ({insert}) {update} RETURNING (SELECT id FROM event)",
    }


def _sql(connection) -> dict[str, str]:
    return _statements(connection.vendor, connection.features.has_select_for_update)


def _prepared(connection, model, names, values) -> list:
    return [
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in zip(names, values, strict=True)
    ]


def chain_head_lock(actor_id: int) -> AccessChainHead:
    """Lock and return `actor_id`'s chain head (created at the genesis value on first use).

    Call inside a transaction; other actors' appends do not wait for it.
    """
    connection = transaction.get_connection()
    sql = _sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql["lock"], [actor_id])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(sql["create"], [actor_id, genesis(actor_id)])
            cursor.execute(sql["lock"], [actor_id])
            row = cursor.fetchone()
    seq, last_hash, day, lookups, reveals = row
    if isinstance(day, str):  # SQLite hands dates back as text
        day = date.fromisoformat(day)
    return AccessChainHead(actor_id=actor_id, seq=seq, hash=last_hash, day=day, lookups=lookups, reveals=reveals)


def chain_append(head: AccessChainHead, **fields) -> AccessEvent:
    """Append one event after `head` (locked by chain_head_lock in this transaction) and save the head.

    The head's daily counts, changed by the caller beforehand, are saved in the same statement.
    """
    event = AccessEvent(**fields, actor_id=head.actor_id, actor_seq=head.seq + 1, prev_hash=head.hash)
    event.created_at = timezone.now()
    event.hash = link_hash(event.prev_hash, event)
    connection = transaction.get_connection()
    sql = _sql(connection)
    values = _prepared(connection, AccessEvent, _EVENT_COLUMNS, [getattr(event, c) for c in _EVENT_COLUMNS])
    counts = _prepared(connection, AccessChainHead, _HEAD_COUNTS, [head.day, head.lookups, head.reveals])
    head_values = [event.actor_seq, event.hash, *counts, head.actor_id]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql["append"], [*values, *head_values])
        else:
            cursor.execute(sql["insert"], values)
            event.pk = cursor.fetchone()[0]
            cursor.execute(sql["update"], head_values)
            if cursor.rowcount != 1:
                raise DatabaseError(f"the chain head of actor {head.actor_id} is missing")
        if connection.vendor == "postgresql":
            row = cursor.fetchone()
            if row is None:
                raise DatabaseError(f"the chain head of actor {head.actor_id} is missing")
            event.pk = row[0]
    event._state.adding, event._state.db = False, connection.alias
    head.seq, head.hash = event.actor_seq, event.hash
    return event


@transaction.atomic
def access_event_append(*, actor, **fields) -> AccessEvent:
    """Append one event to `actor`'s chain (locks only that actor's head). Fields as on AccessEvent."""
    return chain_append(chain_head_lock(actor.pk), **fields)


@dataclass
class Verdict:
    checked: int
    problem: str | None = None  # the first broken link, named so an auditor can find it


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


def verify() -> Verdict:
    """Check every chain; return how many events were checked and the first problem, if any."""
    heads = {h.actor_id: h for h in AccessChainHead.objects.all()}
    events = AccessEvent.objects.order_by("actor_id", "actor_seq").iterator(chunk_size=5000)
    checked = 0
    for _event_id, problem in _problems(events, heads):
        if problem:
            return Verdict(checked, problem)
        checked += 1
    for actor, head in heads.items():
        if head.seq:
            return Verdict(checked, f"actor {actor}: its head records {head.seq} events but none are left")
    return Verdict(checked)
