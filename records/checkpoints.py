"""Checkpoints of the access log's chain heads, out of the database's reach (docs/audit-checkpoints.md).

The hash chains (records/audit.py) stop someone with database access from forging events, not from
deleting an actor's latest events and winding the head back: what is left is still a valid chain. So
the `checkpoints` governance job writes every chain head that moved since its last run (actor id,
sequence number, hash) to a new file, signed with the audit key, in PRAHARI_AUDIT_CHECKPOINT_DIR (an
append-only directory), and sends the same lines to a syslog receiver when PRAHARI_AUDIT_CHECKPOINT_SYSLOG
is set. `verify_audit` reads every file back and fails when a chain no longer holds an event a checkpoint
recorded, exactly as recorded.

File format (one file per run, JSON lines, UTF-8, each line ending in "\\n"):
    {"format": "prahari-audit-checkpoint/1", "at": <ISO time, UTC>, "run": <hex id>, "entries": N}
    {"actor": 17, "seq": 45, "hash": "<64 hex>"}            N lines, by actor id
    {"hmac_sha256": "<64 hex>"}                              HMAC-SHA-256(audit key, every byte above it)
A run with nothing moved writes a file with no entries: the files keep coming every run, so a job that
stopped (its schedule lives in the database too) shows as a gap.

Which heads moved is bookkeeping in the database (ChainCheckpoint): one query selects the heads whose
(seq, hash) differ from it, one upsert records them after the file is written. Changing that table only
makes later runs write more; verify reads the files.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socket
import stat
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging.handlers import SysLogHandler
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Exists, Max, OuterRef

from accounts.models import User
from records.audit import sign
from records.models import AccessChainHead, AccessEvent, ChainCheckpoint

FORMAT = "prahari-audit-checkpoint/1"
SIGNATURE = "hmac_sha256"
SUFFIX = ".jsonl"
SYSLOG_LINES_MAX = 1800  # bytes of file lines per syslog datagram: the whole message stays within 2,048 (RFC 5424)

Entry = tuple[int, int, str]  # actor id, sequence number, hash


# --- The job ---------------------------------------------------------------------------------------------


def checkpoints(*, now: datetime, dry_run: bool = False) -> dict:
    """Write the chain heads that moved since the last checkpoint to a new signed file (and to the syslog
    receiver when one is set), then record them as checkpointed, in the run's transaction.

    The file is written and synced before the bookkeeping commits; an error writing or sending it raises
    (OSError), so the run rolls back and the next one writes those heads again. A dry run writes nothing.
    """
    moved = heads_moved()
    if dry_run:
        return {"entries": len(moved), "file": None, "syslog_messages": 0}
    run = secrets.token_hex(6)
    content = checkpoint_content(entries=moved, at=now, run=run)
    name = f"{now.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{run}{SUFFIX}"  # names sort by time
    path = checkpoint_file_write(directory=Path(settings.PRAHARI_AUDIT_CHECKPOINT_DIR), name=name, content=content)
    sent = 0
    if settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG:
        sent = checkpoint_syslog_send(address=settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG, name=path.name, content=content)
    checkpoints_record(entries=moved, at=now)
    return {"entries": len(moved), "file": path.name, "syslog_messages": sent}


def heads_moved() -> list[Entry]:
    """The chain heads (with at least one event) whose (seq, hash) differ from their last checkpoint, or that
    have none, by actor id: one query."""
    same = ChainCheckpoint.objects.filter(actor_id=OuterRef("actor_id"), seq=OuterRef("seq"), hash=OuterRef("hash"))
    heads = AccessChainHead.objects.filter(seq__gt=0).exclude(Exists(same)).order_by("actor_id")
    return list(heads.values_list("actor_id", "seq", "hash"))


def checkpoints_record(*, entries: list[Entry], at: datetime) -> None:
    """Record `entries` as the heads last checkpointed: one upsert."""
    ChainCheckpoint.objects.bulk_create(
        [ChainCheckpoint(actor_id=actor, seq=seq, hash=digest, at=at) for actor, seq, digest in entries],
        update_conflicts=True,
        unique_fields=["actor"],
        update_fields=["seq", "hash", "at"],
    )


# --- The file ----------------------------------------------------------------------------------------------


def _line(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True) + "\n"


def checkpoint_content(*, entries: list[Entry], at: datetime, run: str) -> bytes:
    """A checkpoint file's exact bytes: header, one line per entry, and the signature of all of them."""
    header = {"format": FORMAT, "at": at.astimezone(UTC).isoformat(), "run": run, "entries": len(entries)}
    lines = [_line(header), *(_line({"actor": a, "seq": s, "hash": h}) for a, s, h in entries)]
    body = "".join(lines).encode()
    return body + _line({SIGNATURE: sign(body)}).encode()


def checkpoint_file_write(*, directory: Path, name: str, content: bytes) -> Path:
    """Create the file `name` in `directory` (made if missing) holding `content`, synced to disk and left
    read-only; return its path. Never opens an existing file. Raises OSError when it cannot be written."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    path = directory / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
        os.fchmod(file.fileno(), 0o444)  # done: read-only (verify_audit tells an unfinished file by its write bit)
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)  # the new name, not only the content, survives a crash
    finally:
        os.close(directory_descriptor)
    return path


class CheckpointInvalid(ValueError):
    """A checkpoint file that cannot be trusted; `unfinished` when it stops before its signature line."""

    def __init__(self, reason: str, *, unfinished: bool = False):
        super().__init__(reason)
        self.unfinished = unfinished


def checkpoint_parse(content: bytes) -> list[Entry]:
    """The entries of a checkpoint file's `content`, once its signature verifies under the audit key.

    Raises CheckpointInvalid saying why the file cannot be trusted.
    """
    if not content.endswith(b"\n"):
        raise CheckpointInvalid("it stops mid-line, before its signature", unfinished=True)
    cut = content.rfind(b"\n", 0, len(content) - 1) + 1
    body, last = content[:cut], content[cut:]
    try:
        signature = json.loads(last)[SIGNATURE]
    except (ValueError, KeyError, TypeError):
        raise CheckpointInvalid("its last line is not a signature", unfinished=True) from None
    if not isinstance(signature, str) or not hmac.compare_digest(signature.encode(), sign(body).encode()):
        raise CheckpointInvalid("its signature does not verify (edited, forged, or signed with another audit key)")
    try:
        header, *lines = (json.loads(line) for line in body.decode().splitlines())
        if header.get("format") != FORMAT or header.get("entries") != len(lines):
            raise ValueError(f"the header is not that of {FORMAT} with {len(lines)} entries")
        entries = [(line["actor"], line["seq"], line["hash"]) for line in lines]
        if not all(_entry_valid(entry) for entry in entries):
            raise ValueError("an entry is not an actor id, a sequence number and a hash")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointInvalid(f"it cannot be read: {error}") from None
    return entries


def _entry_valid(entry: Entry) -> bool:
    actor, seq, digest = entry
    numbers = all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (actor, seq))
    return numbers and isinstance(digest, str) and len(digest) == 64


def checkpoint_files(directory: Path) -> list[Path]:
    """The checkpoint files of `directory`, oldest first (none when it does not exist)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))


# --- The syslog receiver --------------------------------------------------------------------------------------


class _SyslogSender(SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        """Raise the send's error: a checkpoint that was not sent fails the run (never only a line on stderr)."""
        raise sys.exc_info()[1]


def syslog_address(value: str) -> tuple[str, int]:
    """("host", port) of a "host:port" setting ("[::1]:514" for an IPv6 address)."""
    host, _sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"PRAHARI_AUDIT_CHECKPOINT_SYSLOG={value!r} is not host:port")
    return host, int(port)


def syslog_messages(*, name: str, content: bytes) -> list[str]:
    """A checkpoint file as syslog messages, each a JSON object {"file", "part", "parts", "lines"} holding
    whole lines of the file (without their "\\n"): joined back in order, they give the signed file."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in content.decode().splitlines():
        length = len(json.dumps(line)) + 1
        if parts[-1] and size + length > SYSLOG_LINES_MAX:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += length
    return [
        json.dumps({"file": name, "part": n, "parts": len(parts), "lines": lines}, separators=(",", ":"))
        for n, lines in enumerate(parts, 1)
    ]


def checkpoint_syslog_send(*, address: str, name: str, content: bytes) -> int:
    """Send the checkpoint file `name` to the syslog receiver at `address` ("host:port", UDP, facility authpriv);
    return how many messages. Raises OSError when the receiver's name does not resolve or a send fails (UDP
    says nothing of delivery)."""
    sender = _SyslogSender(
        address=syslog_address(address), facility=SysLogHandler.LOG_AUTHPRIV, socktype=socket.SOCK_DGRAM
    )
    sender.ident = "prahari-audit-checkpoint: "
    sender.append_nul = False
    try:
        messages = syslog_messages(name=name, content=content)
        for message in messages:
            sender.emit(logging.LogRecord("prahari.audit", logging.INFO, __file__, 0, message, None, None))
    finally:
        sender.close()
    return len(messages)


# --- Verifying ---------------------------------------------------------------------------------------------


@dataclass
class CheckpointsVerdict:
    directory: Path
    files: int = 0  # signed files read
    entries: int = 0  # their entries checked against the chains
    unfinished: list[str] = field(default_factory=list)  # files a failed run left before their signature
    problems: list[str] = field(default_factory=list)


def checkpoints_verify(*, actor_ids: Collection[int] | None = None) -> CheckpointsVerdict:
    """Check every checkpoint file's signature, then that the chains (or only those of `actor_ids`) still hold
    each checkpointed event with exactly its hash. Reads one file at a time; one query per batch of entries.

    Every entry is checked, not only each actor's latest: a chain cut back and then continued by new
    appends reaches its latest checkpoint again, but no longer holds the events the earlier ones recorded.
    Call after the chains' own links verify (records.verification.verify does): a missing event is then the tail.
    """
    directory = Path(settings.PRAHARI_AUDIT_CHECKPOINT_DIR)
    verdict = CheckpointsVerdict(directory)
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
        batch.extend(mine)
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
        found = findings.setdefault(actor, {})
        kind = "differs" if event_hash else "missing"
        best = found.get(kind)
        if best is None or (seq > best[0] if kind == "missing" else seq < best[0]):
            found[kind] = (seq, name)


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
