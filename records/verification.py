"""`verify_audit`'s whole check: the access log's hash chains, then the signed checkpoints outside the database.

The chains (records/audit.py) catch an edited, inserted or deleted event and a head that disagrees with its
chain; the checkpoints (records/checkpoints.py) catch what a valid chain cannot show: its latest events
deleted and its head wound back. A chain whose oldest months were dropped (records/partitions.py) starts at
its cut: the signed checkpoint of its last dropped event, written before the drop.
"""

from __future__ import annotations

import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Max

from accounts.models import User
from records.audit import chains_walk
from records.checkpoints import CheckpointInvalid, Entry, checkpoint_files, checkpoint_parse, checkpoint_read
from records.models import AccessEvent

PROBLEMS_NAMED = 10


@dataclass
class Verdict:
    checked: int
    problem: str | None = None  # the first broken link, or the chains that fail their checkpoints, named
    checkpoints: CheckpointsVerdict | None = None  # what the checkpoint files said (once the chains verify)


def verify(actor_ids: Iterable[int] | None = None) -> Verdict:
    """Check every chain (or only those of `actor_ids`), each from its genesis or from the cut its oldest event
    left follows, then, when they verify, that they still hold every event the signed checkpoint files
    recorded; return how many events were checked and the first problem of the chains, or every actor whose
    chain fails its checkpoints (the first PROBLEMS_NAMED, then a count)."""
    actor_ids = set(actor_ids) if actor_ids is not None else None
    checked, problem, starts = chains_walk(actor_ids, cuts=checkpoint_cuts(actor_ids=actor_ids))
    if problem:
        return Verdict(checked, problem)
    found = checkpoints_verify(actor_ids=actor_ids, starts=starts)
    problems = found.problems[:PROBLEMS_NAMED]
    if len(found.problems) > PROBLEMS_NAMED:
        problems.append(f"and {len(found.problems) - PROBLEMS_NAMED} more")
    return Verdict(checked, "; ".join(problems) or None, found)


# --- The checkpoint files against the chains ---------------------------------------------------------------


def checkpoint_cuts(*, actor_ids: Collection[int] | None = None) -> dict[int, dict[int, str]]:
    """{actor: {seq: hash}} of every cut's entries (or only those of `actor_ids`): the last event of each chain
    in the months the `partitions` job dropped after writing it. Only a file whose header names a cut is
    verified here; one that cannot be trusted is left to checkpoints_verify to report."""
    cuts: dict[int, dict[int, str]] = {}
    for path in checkpoint_files(Path(settings.PRAHARI_AUDIT_CHECKPOINT_DIR)):
        try:
            content = path.read_bytes()
            if b'"cut"' not in content[: content.find(b"\n")]:
                continue  # not a cut: a header edited to drop its cut no longer verifies (checkpoints_verify)
            header, entries = checkpoint_read(content)
        except (OSError, CheckpointInvalid):
            continue
        if "cut" not in header:
            continue
        for actor, seq, digest in entries:
            if actor_ids is None or actor in actor_ids:
                cuts.setdefault(actor, {})[seq] = digest
    return cuts


@dataclass
class CheckpointsVerdict:
    directory: Path
    files: int = 0  # signed files read
    entries: int = 0  # their entries checked against the chains
    before_cut: int = 0  # entries of events dropped by retention, before the cut their chain starts from
    cut_chains: int = 0  # chains that start at a cut
    unfinished: list[str] = field(default_factory=list)  # files a failed run left before their signature
    problems: list[str] = field(default_factory=list)


def checkpoints_verify(
    *, actor_ids: Collection[int] | None = None, starts: dict[int, tuple[int, str]] | None = None
) -> CheckpointsVerdict:
    """Check every checkpoint file's signature, then that the chains (or only those of `actor_ids`) still hold
    each checkpointed event with exactly its hash. Reads one file at a time; one query per batch of entries.

    Every entry is checked, not only each actor's latest: a chain cut back and then continued by new
    appends reaches its latest checkpoint again, but no longer holds the events the earlier ones recorded.
    Call after the chains' own links verify (records.verification.verify does): a missing event is then the tail.
    `starts`: {actor: (seq, hash)} of the chains that start at a cut (records.audit.chains_walk); an entry
    before it names a dropped event and is not looked for, one at it must hold the cut's hash.
    """
    directory = Path(settings.PRAHARI_AUDIT_CHECKPOINT_DIR)
    starts = starts or {}
    verdict = CheckpointsVerdict(directory, cut_chains=len(starts))
    findings: dict[int, dict[str, tuple[int, str]]] = {}
    batch: list[tuple[int, int, str, str]] = []
    for path in checkpoint_files(directory):
        try:
            entries = checkpoint_parse(path.read_bytes())
        except CheckpointInvalid as error:
            if error.unfinished and path.stat().st_mode & stat.S_IWUSR:
                verdict.unfinished.append(path.name)
            else:
                verdict.problems.append(f"checkpoint file {path.name}: {error}")
            continue
        except OSError as error:
            verdict.problems.append(f"checkpoint file {path.name}: it cannot be read ({error.strerror})")
            continue
        verdict.files += 1
        mine = [(a, seq, digest, path.name) for a, seq, digest in entries if actor_ids is None or a in actor_ids]
        verdict.entries += len(mine)
        for actor, seq, digest, name in mine:
            start = starts.get(actor)
            if start is None or seq > start[0]:
                batch.append((actor, seq, digest, name))
            elif seq < start[0] or digest == start[1]:
                verdict.before_cut += 1
            else:  # the cut and an earlier checkpoint disagree on the event the chain starts after
                _note(findings, actor, "differs", seq, name)
        if len(batch) >= _BATCH:
            _find(batch, findings)
            batch = []
    _find(batch, findings)
    verdict.problems.extend(_described(findings))
    return verdict


_BATCH = 1000  # entries per query


def _find(batch: list[tuple[int, int, str, str]], findings: dict[int, dict[str, tuple[int, str]]]) -> None:
    """Add to `findings` the entries of `batch` whose event is gone ("missing": the highest, with its file) or
    holds another hash ("differs": the lowest)."""
    for number, event_hash in _mismatches([(actor, seq, digest) for actor, seq, digest, _file in batch]):
        actor, seq, _digest, name = batch[number]
        _note(findings, actor, "differs" if event_hash else "missing", seq, name)


def _note(findings: dict[int, dict[str, tuple[int, str]]], actor: int, kind: str, seq: int, name: str) -> None:
    """Keep, per actor, the highest missing entry and the lowest that differs."""
    best = findings.setdefault(actor, {}).get(kind)
    if best is None or (seq > best[0] if kind == "missing" else seq < best[0]):
        findings[actor][kind] = (seq, name)


def _mismatches(entries: list[Entry]) -> Iterator[tuple[int, str | None]]:
    """(index in `entries`, the event's hash or None when there is no such event) of each entry the chains do
    not hold exactly: a join of the entries, sent as VALUES, with the log's (actor, sequence) index."""
    size = min(_BATCH, (connection.features.max_query_params or 4 * _BATCH) // 4)
    row = "(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS VARCHAR(64)))"
    events = AccessEvent._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(entries), size):
            chunk = entries[start : start + size]
            cursor.execute(
                f"WITH c (n, actor_id, actor_seq, hash) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
                f"SELECT c.n, e.hash FROM c LEFT JOIN {events} e "
                "ON e.actor_id = c.actor_id AND e.actor_seq = c.actor_seq WHERE e.hash IS NULL OR e.hash <> c.hash",
                [value for n, entry in enumerate(chunk, start) for value in (n, *entry)],
            )
            yield from cursor.fetchall()


def _described(findings: dict[int, dict[str, tuple[int, str]]]) -> list[str]:
    """One problem per actor, naming the actor, the checkpoint file and the events."""
    if not findings:
        return []
    names = dict(User.objects.filter(pk__in=findings).values_list("pk", "username"))
    ends = dict(
        AccessEvent.objects.filter(actor_id__in=findings)
        .order_by()
        .values("actor_id")
        .annotate(end=Max("actor_seq"))
        .values_list("actor_id", "end")
    )
    problems = []
    for actor in sorted(findings):
        who, parts = f"actor {actor} ({names.get(actor, '?')})", []
        if "missing" in findings[actor]:
            seq, name = findings[actor]["missing"]
            end = ends.get(actor, 0)
            gone = f"event {seq}" if seq == end + 1 else f"events {end + 1}–{seq}"
            parts.append(f"chain of {who} ends at seq {end} but checkpoint {name} holds seq {seq}: {gone} missing")
        if "differs" in findings[actor]:
            seq, name = findings[actor]["differs"]
            parts.append(
                f"event {seq} of {who} differs from its checkpoint {name} "
                "(the chain was cut there and continued, or the audit key changed)"
            )
        problems.append("; ".join(parts))
    return problems
