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

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import transaction
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


def chain_head_lock(actor_id: int) -> AccessChainHead:
    """Lock and return `actor_id`'s chain head (created at the genesis value on first use).

    Call inside a transaction; other actors' appends do not wait for it.
    """
    head, _created = AccessChainHead.objects.select_for_update().get_or_create(
        actor_id=actor_id, defaults={"seq": 0, "hash": genesis(actor_id)}
    )
    return head


def chain_append(head: AccessChainHead, **fields) -> AccessEvent:
    """Append one event after `head` (locked by chain_head_lock in this transaction) and save the head.

    The head's daily counts, changed by the caller beforehand, are saved in the same statement.
    """
    event = AccessEvent(**fields, actor_id=head.actor_id, actor_seq=head.seq + 1, prev_hash=head.hash)
    event.created_at = timezone.now()
    event.hash = link_hash(event.prev_hash, event)
    event.save()
    head.seq, head.hash = event.actor_seq, event.hash
    head.save(update_fields=["seq", "hash", "day", "lookups", "reveals"])
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
