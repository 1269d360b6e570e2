"""The access log's hash chain: append one event, verify the chains (the statements: records/statements.py).

Design (README §Access log): one chain per actor. Each event stores `prev_hash` (the previous event
of the same actor, or a per-actor genesis value) and `hash` = HMAC-SHA-256(audit key, prev_hash +
canonical content). A head row per actor holds the last sequence number and hash; an append locks
only its own actor's head, so concurrent workers never queue on one lock. `verify` walks every
chain: an edited row breaks its hash, a deleted or inserted row breaks the sequence or the next
link, a deleted last row leaves the head ahead of the chain. The key (PRAHARI_AUDIT_KEY, or one
derived from DJANGO_SECRET_KEY) keeps someone with only database access from re-forging a chain.
Deleting the latest events and winding the head back leaves a valid chain: the signed checkpoints
kept outside the database (records/checkpoints.py) are what `verify` catches that with. Once old months
are dropped (records/partitions.py), a chain starts from its signed cut instead of its genesis.

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

import hashlib
import hmac
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from records.metrics import lookup_counted
from records.models import AccessChainHead, AccessEvent
from records.statements import HEAD_COUNTS, event_loaded, event_row, prepared_cursor, statements_for, values_prepared


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


def event_content(fields: dict) -> dict:
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


# --- The pace of the latest requests: the cadence rule's figures, kept at append -------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def pace(recent: tuple[int, ...], created_at: datetime) -> tuple[tuple[int, ...], tuple[float | None, float | None]]:
    """The chain's latest request times after a request at `created_at`, and that request's (pace_mean,
    pace_sd): the mean and population standard deviation of the gaps (seconds) between the chain's latest
    PRAHARI_ANOMALY_CADENCE_REQUESTS requests, (None, None) while there are fewer. `recent`: the times of the
    requests before it (microseconds since 1970-01-01 UTC, oldest first; more than needed are ignored).

    The cadence rule (governance/rules/cadence.py) then reads each new event's figures instead of walking every
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
    sql = statements_for(connection)
    keep = _keep() - 1  # the requests before the next one
    with prepared_cursor(connection) as cursor:
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


def chain_append(head: AccessChainHead, **fields) -> int:
    """Append one event after `head` (locked by chain_head_lock in this transaction), save the head and return
    the event's id (a look-up needs no more of it: no model instance is built).

    The head's daily counts, changed by the caller beforehand, are saved in the same statement. The
    look-up is counted for /metrics by action and outcome once the transaction commits (records/metrics.py).
    """
    event_id = _append_head(transaction.get_connection(), head, event_content(fields))[0]
    lookup_counted(action=fields["action"], outcome=fields["outcome"])
    return event_id


def _append_locked(connection, head: AccessChainHead, content: dict, created_at=None) -> AccessEvent:
    return event_loaded(connection, *_append_head(connection, head, content, created_at))


def _append_head(connection, head: AccessChainHead, content: dict, created_at=None) -> tuple:
    """Append after the locked `head` and move it; the new event's (id, time, actor, seq, content, prev_hash, hash,
    pace), as `event_loaded` takes them."""
    created_at, seq, prev_hash = created_at or timezone.now(), head.seq + 1, head.hash
    digest = _link(prev_hash, _canonical(head.actor_id, seq, created_at, content))
    recent, paced = pace(head.recent, created_at)
    row = event_row(connection, created_at, head.actor_id, seq, content, prev_hash, digest, paced)
    counts = values_prepared(connection, AccessChainHead, HEAD_COUNTS, [head.day, head.lookups, head.reveals])
    head_values = [seq, digest, *counts, head.actor_id]
    sql = statements_for(connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql["append"], [*row, *head_values])
        found = cursor.fetchone()
    if found is None:
        raise DatabaseError(f"the chain head of actor {head.actor_id} is missing")
    head.seq, head.hash, head.recent = seq, digest, recent
    _remember(connection, head.actor_id, seq, digest, recent)  # kept even if this transaction rolls back: a guess
    return found[0], created_at, head.actor_id, seq, content, prev_hash, digest, paced


def _append_swapped(
    connection, actor_id: int, seq: int, prev_hash: str, recent: tuple[int, ...], content: dict
) -> AccessEvent | None:
    """Append after the head (seq, prev_hash) this connection wrote last, if it is still the head; else None.
    `recent`: the chain's latest request times this connection remembers with it (the events up to that head
    never change, so the head's hash vouches for them)."""
    created_at, new_seq = timezone.now(), seq + 1
    digest = _link(prev_hash, _canonical(actor_id, new_seq, created_at, content))
    recent, paced = pace(recent, created_at)
    row = event_row(connection, created_at, actor_id, new_seq, content, prev_hash, digest, paced)
    swap = [new_seq, digest, actor_id, seq, prev_hash]
    with prepared_cursor(connection) as cursor:
        cursor.execute(statements_for(connection)["swap_append"], [*swap, *row])
        found = cursor.fetchone()
    if found is None:
        _remembered(connection).pop(actor_id, None)
        return None
    _remember(connection, actor_id, new_seq, digest, recent)
    return event_loaded(connection, found[0], created_at, actor_id, new_seq, content, prev_hash, digest, paced)


def access_event_append(*, actor, **fields) -> AccessEvent:
    """Append one event to `actor`'s chain (only that actor's head is involved). Fields as on AccessEvent.

    Outside a transaction, when this connection wrote the actor's last event, the append is one
    statement (its own transaction): the head moves from the remembered (seq, hash) to the new event's,
    and the event is inserted, or neither happens. Otherwise (inside a transaction, a first append, or
    another connection wrote since) the head is locked and read, as for a record look-up.
    """
    connection = transaction.get_connection()
    content = event_content(fields)
    if not connection.in_atomic_block:
        remembered = _remembered(connection).get(actor.pk)
        if remembered is not None:
            event = _append_swapped(connection, actor.pk, *remembered, content)
            if event is not None:
                return event
    with transaction.atomic(using=connection.alias):
        return _append_locked(connection, chain_head_lock(actor.pk), content)


def access_events_append_past(*, actor, events: Iterable[tuple[datetime, dict]]) -> int:
    """Append events that happened before now to `actor`'s chain (demo data, imports): `events` are (time,
    fields as on AccessEvent), oldest first. Return how many were appended.

    One transaction, the head locked once; the daily counts of the head stay as they are (they are today's). A
    chain is in time order: each time must be later than the chain's latest event and not in the future, else
    ValueError and nothing is appended.
    """
    connection = transaction.get_connection()
    now, appended = timezone.now(), 0
    with transaction.atomic(using=connection.alias):
        head = chain_head_lock(actor.pk)
        for at, fields in events:
            latest = head.recent[-1] if head.recent else None
            if at > now or (latest is not None and _micros(at) <= latest):
                raise ValueError(f"an event at {at.isoformat()} is not after the chain's latest nor before now")
            _append_locked(connection, head, event_content(fields), created_at=at)
            appended += 1
    return appended


def _problems(
    events: Iterator[AccessEvent], heads: dict[int, AccessChainHead], cuts: dict, starts: dict
) -> Iterator[tuple[int, str]]:
    actor, expected_seq, prev = None, 0, ""
    for event in events:
        if event.actor_id != actor:
            if actor is not None:
                yield from _head_problems(actor, expected_seq, prev, heads)
            actor, expected_seq, prev = event.actor_id, 0, genesis(event.actor_id)
            cut = cuts.get(actor, {}).get(event.actor_seq - 1)
            if cut is not None:  # its older months were dropped: the chain goes on from their last event
                expected_seq, prev = starts[actor] = (event.actor_seq - 1, cut)
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
    """Check every chain (or only those of `actor_ids`) link by link and against its head, each from its
    genesis; return how many events were checked and the first problem (None when every chain is whole)."""
    checked, problem, _starts = chains_walk(actor_ids)
    return checked, problem


def chains_walk(
    actor_ids: Iterable[int] | None = None, *, cuts: dict[int, dict[int, str]] | None = None
) -> tuple[int, str | None, dict[int, tuple[int, str]]]:
    """Check every chain (or only those of `actor_ids`) link by link and against its head; return how many
    events were checked, the first problem (None when every chain is whole) and the chains that start at a cut.

    `cuts`: {actor: {seq: hash}}, the signed cuts the `partitions` job wrote before it dropped old months
    (records/verification.py reads them). A chain whose oldest event left is not its first starts from the cut
    of the event just before it, {actor: (seq, hash)} in the third value; without one it is missing events.
    A head with no event left must be a cut. The signed checkpoints are checked after it
    (records/verification.py)."""
    cuts, starts = cuts or {}, {}
    heads, events = AccessChainHead.objects.all(), AccessEvent.objects.all()
    if actor_ids is not None:
        heads, events = heads.filter(actor_id__in=actor_ids), events.filter(actor_id__in=actor_ids)
    heads = {h.actor_id: h for h in heads}
    events = events.order_by("actor_id", "actor_seq").iterator(chunk_size=5000)
    checked = 0
    for _event_id, problem in _problems(events, heads, cuts, starts):
        if problem:
            return checked, problem, starts
        checked += 1
    for actor, head in heads.items():
        if head.seq and cuts.get(actor, {}).get(head.seq) == head.hash:
            starts[actor] = (head.seq, head.hash)  # every event of it was in the months dropped
        elif head.seq:
            return checked, f"actor {actor}: its head records {head.seq} events but none are left", starts
    return checked, None, starts
