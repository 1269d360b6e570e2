"""Checkpoints of the access log's chain heads, out of the database's reach (docs/audit-checkpoints.md).

The hash chains (records/audit.py) stop someone with database access from forging events, not from
deleting an actor's latest events and winding the head back: what is left is still a valid chain. So
the `checkpoints` governance job writes every chain head that moved since its last run (actor id,
sequence number, hash) to a new file, signed with the audit key, in PRAHARI_AUDIT_CHECKPOINT_DIR (an
append-only directory), and sends the same lines to a syslog receiver when PRAHARI_AUDIT_CHECKPOINT_SYSLOG
is set. `verify_audit` reads every file back and fails when a chain no longer holds an event a checkpoint
recorded, exactly as recorded (records/verification.py). The same files, with a `cut` in their header, are
what the `partitions` job writes before it drops a month of the log (records/partitions.py).

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
import sys
from datetime import UTC, datetime
from logging.handlers import SysLogHandler
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef

from records.audit import sign
from records.models import AccessChainHead, ChainCheckpoint

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
    name, sent = checkpoint_write(entries=moved, at=now)
    checkpoints_record(entries=moved, at=now)
    return {"entries": len(moved), "file": name, "syslog_messages": sent}


def checkpoint_write(*, entries: list[Entry], at: datetime, cut: datetime | None = None) -> tuple[str, int]:
    """Write `entries` to a new signed file of PRAHARI_AUDIT_CHECKPOINT_DIR (a cut, records/partitions.py, when
    `cut` is given), and send it to the syslog receiver when one is set; return the file's name and how many
    messages were sent. Raises OSError when the file cannot be written or sent."""
    run = secrets.token_hex(6)
    content = checkpoint_content(entries=entries, at=at, run=run, cut=cut)
    name = f"{at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{run}{SUFFIX}"  # names sort by time
    path = checkpoint_file_write(directory=Path(settings.PRAHARI_AUDIT_CHECKPOINT_DIR), name=name, content=content)
    sent = 0
    if settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG:
        sent = checkpoint_syslog_send(address=settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG, name=path.name, content=content)
    return path.name, sent


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


def checkpoint_content(*, entries: list[Entry], at: datetime, run: str, cut: datetime | None = None) -> bytes:
    """A checkpoint file's exact bytes: header, one line per entry, and the signature of all of them. A cut's
    header also holds `cut`: the time before which the events were about to be dropped."""
    header = {"format": FORMAT, "at": at.astimezone(UTC).isoformat(), "run": run, "entries": len(entries)}
    if cut is not None:
        header["cut"] = cut.astimezone(UTC).isoformat()
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
    return checkpoint_read(content)[1]


def checkpoint_read(content: bytes) -> tuple[dict, list[Entry]]:
    """The header and the entries of a checkpoint file's `content`, once its signature verifies (else
    CheckpointInvalid, saying why)."""
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
        if "cut" in header and not isinstance(header["cut"], str):
            raise ValueError("the cut is not a time")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointInvalid(f"it cannot be read: {error}") from None
    return header, entries


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
