"""A Celery worker killed with SIGKILL in the middle of each governance job: nothing half-written, and the next
run does what an uninterrupted run would have done.

A real `celery -A portal worker` (prefork, one process, as the governance worker runs) on a Redis of the test's
own. Every job's writes are one transaction; the test stops it at its worst moment, its COMMIT, with all its
writes made: a deferred trigger on every table (and an event trigger for the DDL of `partitions`) waits for an
advisory lock the test holds. Once the job's session waits there, the worker's process running it is killed
with SIGKILL (for the last job, the whole worker). The session's server notices its client is gone
(client_connection_check_interval) and rolls the transaction back: every table is as before. The next
run of the job, sent to the worker again as beat would send it, then reports what a dry run reported before
the kill.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from accounts.models import Invitation, Notification, Status, User, UserSession
from governance.jobs import JOB_ORDER, job_run
from records.partitions import month_after, month_of, partition_name
from records.services import record_get_for_viewer
from tests.faults.services import wait_until
from tests.faults.snapshot import fingerprint
from tests.integration.conftest import _celery_process, database_url_for
from tests.records.conftest import records, viewer  # noqa: F401 (records: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALL_KEY = 74_201_900  # the advisory lock the triggers wait for
STALL_SECONDS = 60.0


def _busy(world, records) -> None:  # noqa: F811
    """Work for every job: dormant and overdue accounts, a lapsed invitation, old outbox rows and sessions,
    look-ups to explain, score and checkpoint."""
    now = timezone.now()
    User.objects.filter(is_system=False).update(last_login=now)
    User.objects.filter(pk=world.worker.pk).update(last_login=now - timedelta(days=50))  # suspended
    User.objects.filter(pk=world.colleague.pk).update(last_login=now - timedelta(days=35))  # warned
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=now + timedelta(days=10))  # reminded
    User.objects.filter(pk=world.far_worker.pk).update(review_due_at=now - timedelta(hours=1))  # overdue
    invited = User.objects.create(username="invited.one", status=Status.INVITED, facility=world.facility)
    Invitation.objects.create(user=invited, invited_by=world.supervisor, token_hash="a" * 64, expires_at=now)
    old = Notification.objects.create(
        user=world.worker, channel="sms", to="+919800000000", kind="x", idempotency_key=uuid.uuid4().hex, state="sent"
    )
    Notification.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=40))
    UserSession.objects.create(session_key="e" * 40, session_data="", expire_date=now - timedelta(hours=1))
    for record in (records.own, records.same_district):
        record_get_for_viewer(viewer=viewer(world.supervisor), reference_id=record.reference_id, purpose="due_dose")
    with connection.cursor() as cursor:  # the access log's last month ahead, for `partitions` to make again
        cursor.execute(f"DROP TABLE IF EXISTS {partition_name(month_after(month_of(now), 3))}")


def _fingerprint() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        return fingerprint(cursor)


@contextmanager
def _triggers() -> Iterator[None]:
    """A deferred trigger on every table and an event trigger on DDL, both waiting for STALL_KEY."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION prahari_fault_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"PERFORM pg_advisory_xact_lock_shared({STALL_KEY}); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE FUNCTION prahari_fault_stall_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"PERFORM pg_advisory_xact_lock_shared({STALL_KEY}); END $$"
        )
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        for table in tables:
            cursor.execute(
                f'CREATE CONSTRAINT TRIGGER prahari_fault_stall AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION prahari_fault_stall()"
            )
        cursor.execute(
            "CREATE EVENT TRIGGER prahari_fault_stall_ddl ON ddl_command_end EXECUTE FUNCTION prahari_fault_stall_ddl()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP EVENT TRIGGER IF EXISTS prahari_fault_stall_ddl")
            cursor.execute("DROP FUNCTION prahari_fault_stall() CASCADE")  # and every trigger using it
            cursor.execute("DROP FUNCTION prahari_fault_stall_ddl()")


def _waiting_session() -> int | None:
    """The pid of a session of this database waiting for STALL_KEY, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [STALL_KEY],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _session_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid])
        return cursor.fetchone()[0]


def _summaries(worker, job: str) -> list[dict]:
    """The summaries the worker logged for `job`'s runs that succeeded, in order."""
    found = []
    for line in worker.output().splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            continue
        matched = re.match(rf"Task governance\.{job}\[[^\]]+\] succeeded in [^:]+: (.*)$", message, re.DOTALL)
        if matched:
            found.append(ast.literal_eval(matched[1]))
    return found


def _checkpoint_files(directory: Path) -> dict[str, bool]:
    """Each checkpoint file and whether it is finished (read-only: verify_audit's sign of a whole file)."""
    if not directory.exists():
        return {}
    return {path.name: not (path.stat().st_mode & 0o222) for path in directory.iterdir()}


def test_a_worker_killed_in_each_job_leaves_nothing_half_and_the_next_run_converges(
    world,
    records,  # noqa: F811
    own_redis,
    tmp_path,
    settings,
):
    checkpoint_dir = tmp_path / "checkpoints"
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = checkpoint_dir
    _busy(world, records)
    queue = f"prahari-faults-{uuid.uuid4().hex}"
    # The worker's sessions check every 100 ms that their client is still there, also while they wait.
    database_url = database_url_for(
        connection.settings_dict
        | {"OPTIONS": {**connection.settings_dict["OPTIONS"], "options": "-c client_connection_check_interval=100"}}
    )
    workers = []

    def worker_start():
        workers.append(
            _celery_process(
                [
                    "worker",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "1",
                    "-Q",
                    queue,
                    "--hostname",
                    f"{queue}@%h",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ],
                database_url=database_url,
                log_path=tmp_path / f"worker-{len(workers)}.log",
                queue=queue,
                env={
                    "REDIS_URL": own_redis.url,
                    "CELERY_BROKER_URL": None,
                    "CELERY_QUEUE": queue,
                    "PRAHARI_AUDIT_CHECKPOINT_DIR": str(checkpoint_dir),
                },
            )
        )
        return workers[-1]

    worker = worker_start()
    producer = Celery("prahari-faults-producer", set_as_current=False, fixups=[])
    producer.conf.update(broker_url=own_redis.url, task_serializer="json", accept_content=["json"])
    ran: list[str] = []
    try:
        with _triggers():
            for job in JOB_ORDER:
                whole_worker = job == JOB_ORDER[-1]
                expected = job_run(job, dry_run=True)  # what an uninterrupted run does now
                before, files_before = _fingerprint(), _checkpoint_files(checkpoint_dir)
                holder = connection.cursor()
                holder.execute("SELECT pg_advisory_lock(%s)", [STALL_KEY])
                try:
                    producer.send_task(f"governance.{job}", queue=queue)
                    wait_until(lambda: _waiting_session() is not None, what=f"{job}: the job waiting at its commit",
                               timeout=STALL_SECONDS, output=worker.output)  # fmt: skip
                    pid = _waiting_session()
                    process = psutil.Process(worker.process.pid)
                    if whole_worker:
                        os.killpg(worker.process.pid, signal.SIGKILL)
                    else:
                        for child in process.children(recursive=True):
                            child.send_signal(signal.SIGKILL)
                    wait_until(lambda pid=pid: _session_gone(pid), what=f"{job}: the killed job's session ending")
                finally:
                    holder.execute("SELECT pg_advisory_unlock(%s)", [STALL_KEY])
                    holder.close()

                assert _fingerprint() == before, f"{job}: the killed run left rows behind"
                files = _checkpoint_files(checkpoint_dir)
                assert all(files.values()), f"{job}: a checkpoint file was left half-written: {files}"
                assert set(files) >= set(files_before)

                if whole_worker:
                    worker = worker_start()  # as the service manager would start it again
                producer.send_task(f"governance.{job}", queue=queue)  # the next run, as beat would send it
                wait_until(lambda w=worker, j=job: _summaries(w, j), what=f"{job}: the next run", output=worker.output)
                summary = _summaries(worker, job)[-1]
                if "file" in summary:  # a dry run names no checkpoint file; the run names the one it wrote
                    assert _checkpoint_files(checkpoint_dir).get(summary["file"]) is True
                    summary["file"] = expected["file"]
                assert {**summary, "dry_run": True} == expected, f"{job}: the next run did not converge"
                print(f"{job}: {summary}")
                ran.append(job)
                if not whole_worker:
                    assert worker.alive(), "the worker's main process replaces the killed process"
    finally:
        producer.close()
        for each in workers:
            each.stop()
            print(f"--- Celery worker (jobs killed: {ran}) ---\n{each.output()[-6000:]}")
    assert ran == list(JOB_ORDER)
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED, "the dormancy job's next run suspended the dormant account"
