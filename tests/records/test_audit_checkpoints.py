"""Signed checkpoints of the chain heads, outside the database: a chain cut back at its end no longer passes."""

from __future__ import annotations

import json
import os
import socket
import stat
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from governance.jobs import job_run
from records.audit import access_event_append
from records.checkpoints import (
    SYSLOG_LINES_MAX,
    checkpoint_content,
    checkpoint_files,
    checkpoint_parse,
    checkpoint_syslog_send,
    syslog_address,
)
from records.models import AccessChainHead, AccessEvent, ChainCheckpoint
from records.verification import verify

pytestmark = pytest.mark.django_db


def append(actor, n: int = 1) -> list[AccessEvent]:
    fields = {"action": "search", "outcome": "not_found", "purpose": "follow-up visit", "ip_address": "10.0.0.7"}
    return [access_event_append(actor=actor, **fields) for _ in range(n)]


def checkpoint() -> dict:
    return job_run("checkpoints")


def files(settings) -> list:
    return checkpoint_files(settings.PRAHARI_AUDIT_CHECKPOINT_DIR)


def entries(path) -> list[tuple[int, int, str]]:
    return checkpoint_parse(path.read_bytes())


def cut_back(actor, to_seq: int) -> None:
    """Tamper as someone with database access would: delete the actor's events after `to_seq` past the append-only
    trigger, and wind the chain head back to the event left last, so that the chain verifies on its own."""
    last = AccessEvent.objects.get(actor=actor, actor_seq=to_seq)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off, this transaction only
        cursor.execute(
            f"DELETE FROM {AccessEvent._meta.db_table} WHERE actor_id = %s AND actor_seq > %s", [actor.pk, to_seq]
        )
        cursor.execute(
            f"UPDATE {AccessChainHead._meta.db_table} SET seq = %s, hash = %s WHERE actor_id = %s",
            [to_seq, last.hash, actor.pk],
        )


def verify_audit() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_untouched_chains_pass_their_checkpoints(world, settings):
    append(world.worker, 3)
    append(world.colleague, 2)
    summary = checkpoint()
    (path,) = files(settings)
    assert summary["entries"] == 2 and summary["file"] == path.name
    heads = AccessChainHead.objects.order_by("actor_id").values_list("actor_id", "seq", "hash")
    assert entries(path) == list(heads)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444  # left read-only
    out = verify_audit()
    assert "Access log intact: 5 events verified." in out
    assert f"Checkpoints intact: 2 entries in 1 signed files of {settings.PRAHARI_AUDIT_CHECKPOINT_DIR}" in out


def test_a_chain_cut_back_with_its_head_fails_naming_the_actor_and_the_missing_events(world, settings):
    append(world.worker, 5)
    append(world.colleague, 2)
    checkpoint()
    (path,) = files(settings)
    cut_back(world.worker, 3)
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = path.parent.with_name("none-here")
    assert verify().problem is None  # the chains alone still verify …
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = path.parent  # … the checkpoint they no longer reach does not
    with pytest.raises(CommandError) as failure:
        verify_audit()
    assert str(failure.value) == (
        "Access log fails its checkpoints (5 events verified as chains): "
        f"chain of actor {world.worker.pk} (asha) ends at seq 3 but checkpoint {path.name} holds seq 5: "
        "events 4–5 missing"
    )


def test_only_the_cut_chain_fails_when_verifying_some_actors(world, settings):
    append(world.worker, 2)
    append(world.colleague, 2)
    checkpoint()
    cut_back(world.colleague, 1)
    assert verify([world.worker.pk]).problem is None
    assert "(ravi) ends at seq 1" in verify([world.colleague.pk]).problem
    assert "event 2 missing" in verify().problem


def test_a_chain_cut_back_and_continued_past_its_checkpoint_still_fails(world, settings):
    """The new events reach the latest checkpoint again: the earlier one shows that the chain was rewritten."""
    append(world.worker, 5)
    checkpoint()
    first = files(settings)[0]
    cut_back(world.worker, 3)
    append(world.worker, 3)  # a new event 4, 5 and 6, validly linked to event 3
    assert checkpoint()["entries"] == 1
    assert [e[1] for e in entries(files(settings)[1])] == [6]
    with pytest.raises(
        CommandError, match=f"event 5 of actor {world.worker.pk} \\(asha\\) differs from its checkpoint {first.name}"
    ):
        verify_audit()


def test_an_edited_checkpoint_file_fails_naming_it(world, settings):
    append(world.worker, 2)
    checkpoint()
    (path,) = files(settings)
    content = path.read_bytes()
    os.chmod(path, 0o644)  # as a filesystem that is not write-once would let someone do
    path.write_bytes(content.replace(b'"seq":2', b'"seq":1'))
    os.chmod(path, 0o444)
    with pytest.raises(CommandError, match=f"checkpoint file {path.name}: its signature does not verify"):
        verify_audit()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (lambda: checkpoint_content(entries=[(1, 1, "0" * 64)], at=timezone.now(), run="forged"), "signature"),
        (lambda: b"not a checkpoint\n", "its last line is not a signature"),
        (lambda: b'{"hmac_sha256":"0"}\n', "signature"),
    ],
)
def test_a_file_not_signed_with_the_audit_key_fails_naming_it(world, settings, content, reason):
    append(world.worker, 1)
    checkpoint()
    settings.PRAHARI_AUDIT_KEY = "another key"
    forged = content()
    settings.PRAHARI_AUDIT_KEY = None
    path = settings.PRAHARI_AUDIT_CHECKPOINT_DIR / "20991231T235959.000000Z-forged.jsonl"
    path.write_bytes(forged)
    path.chmod(0o444)
    with pytest.raises(CommandError, match=f"checkpoint file {path.name}: .*{reason}"):
        verify_audit()


def test_a_checkpoint_file_that_cannot_be_read_fails_naming_it(world, settings):
    append(world.worker, 1)
    checkpoint()
    unreadable = settings.PRAHARI_AUDIT_CHECKPOINT_DIR / "20991231T235959.000000Z-a-directory.jsonl"
    unreadable.mkdir()
    with pytest.raises(CommandError, match=f"checkpoint file {unreadable.name}: it cannot be read"):
        verify_audit()


def test_a_file_its_run_left_unfinished_is_skipped(world, settings):
    append(world.worker, 1)
    checkpoint()
    (path,) = files(settings)
    unfinished = path.with_name("20991231T235959.000000Z-crashed.jsonl")
    unfinished.write_bytes(path.read_bytes()[:-20])  # no signature line yet, still writable
    assert f"Skipped checkpoint file {unfinished.name}: unfinished" in verify_audit()
    unfinished.chmod(0o444)  # a finished file must verify
    with pytest.raises(CommandError, match=f"checkpoint file {unfinished.name}: it stops mid-line"):
        verify_audit()


def test_a_run_writes_only_the_heads_that_moved(world, settings):
    append(world.worker, 2)
    append(world.colleague, 1)
    assert checkpoint()["entries"] == 2
    written = files(settings)[0].read_bytes()
    (asha_event,) = append(world.worker, 1)
    assert checkpoint()["entries"] == 1
    assert checkpoint()["entries"] == 0  # nothing moved: a signed file without entries, the run's trace
    first, second, third = files(settings)
    assert [(e[0], e[1]) for e in entries(first)] == [(world.worker.pk, 2), (world.colleague.pk, 1)]
    assert entries(second) == [(world.worker.pk, 3, asha_event.hash)]
    assert entries(third) == []
    assert json.loads(third.read_bytes().splitlines()[0])["entries"] == 0
    assert ChainCheckpoint.objects.get(actor=world.worker).hash == asha_event.hash
    assert first.read_bytes() == written  # never rewritten
    assert "3 entries in 3 signed files" in verify_audit()


def test_a_tampered_bookkeeping_table_only_adds_checkpoints(world, settings):
    append(world.worker, 2)
    checkpoint()
    ChainCheckpoint.objects.update(seq=1)
    assert checkpoint()["entries"] == 1  # written again
    ChainCheckpoint.objects.update(seq=2)
    cut_back(world.worker, 1)
    assert checkpoint()["entries"] == 1  # the wound-back head is checkpointed too …
    with pytest.raises(CommandError, match=r"ends at seq 1 but checkpoint .* holds seq 2"):  # … the files remember
        verify_audit()


def test_a_dry_run_writes_nothing(world, settings):
    append(world.worker, 2)
    summary = job_run("checkpoints", dry_run=True)
    assert (summary["entries"], summary["file"]) == (1, None)
    assert files(settings) == [] and not ChainCheckpoint.objects.exists()


def test_a_file_that_cannot_be_written_fails_the_run(world, settings, tmp_path):
    append(world.worker, 1)
    (tmp_path / "a-file").write_text("")
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = tmp_path / "a-file" / "checkpoints"
    with pytest.raises(OSError):
        checkpoint()
    assert not ChainCheckpoint.objects.exists()  # the next run writes it


def test_no_checkpoint_files_means_only_the_chains_are_checked(world, settings):
    append(world.worker, 1)
    assert "No checkpoint files in" in verify_audit()


@pytest.fixture
def receiver():
    """A real syslog receiver: a UDP socket on the loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def received(sock, count: int) -> list[dict]:
    messages = []
    for _ in range(count):
        datagram = sock.recv(65535).decode()
        assert len(datagram.encode()) <= 2048
        priority, _sep, rest = datagram.partition(">")
        assert priority == f"<{10 * 8 + 6}"  # authpriv.info
        messages.append(json.loads(rest.removeprefix("prahari-audit-checkpoint: ")))
    return messages


def test_the_syslog_receiver_gets_each_checkpoint(world, settings, receiver):
    settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG = f"127.0.0.1:{receiver.getsockname()[1]}"
    append(world.worker, 1)
    summary = checkpoint()
    (path,) = files(settings)
    (message,) = received(receiver, summary["syslog_messages"])
    assert (message["file"], message["part"], message["parts"]) == (path.name, 1, 1)
    assert "".join(line + "\n" for line in message["lines"]).encode() == path.read_bytes()


def test_a_large_checkpoint_reaches_syslog_in_parts_that_rebuild_the_signed_file(receiver):
    content = checkpoint_content(entries=[(n, n, "a" * 64) for n in range(1, 101)], at=timezone.now(), run="r")
    address = f"127.0.0.1:{receiver.getsockname()[1]}"
    sent = checkpoint_syslog_send(address=address, name="big.jsonl", content=content)
    assert sent > 1 and len(content) > SYSLOG_LINES_MAX
    messages = received(receiver, sent)
    assert [m["part"] for m in messages] == list(range(1, sent + 1)) and {m["parts"] for m in messages} == {sent}
    rebuilt = "".join(line + "\n" for m in messages for line in m["lines"]).encode()
    assert rebuilt == content and len(checkpoint_parse(rebuilt)) == 100


def test_a_checkpoint_that_cannot_be_sent_to_syslog_fails_the_run(world, settings, receiver, monkeypatch):
    settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG = f"127.0.0.1:{receiver.getsockname()[1]}"
    append(world.worker, 1)

    def unreachable(*args):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket.socket, "sendto", unreachable)
    with pytest.raises(OSError, match="unreachable"):
        checkpoint()
    assert not ChainCheckpoint.objects.exists()  # the next run writes and sends it again
    assert len(files(settings)) == 1  # the file stays: one checkpoint more


@pytest.mark.parametrize(
    ("value", "address"), [("logs.example.org:514", ("logs.example.org", 514)), ("[::1]:6514", ("::1", 6514))]
)
def test_the_syslog_setting_is_host_and_port(value, address):
    assert syslog_address(value) == address


@pytest.mark.parametrize("value", ["logs.example.org", ":514", "logs.example.org:syslog", "logs.example.org:70000"])
def test_a_syslog_setting_without_host_and_port_is_refused(value):
    with pytest.raises(ImproperlyConfigured, match="PRAHARI_AUDIT_CHECKPOINT_SYSLOG"):
        syslog_address(value)
