"""A real Celery worker process runs `accounts.clear_expired_sessions` against the test database.

Eager mode would hide serialisation, routing, the broker and the worker's own database connection
(PITFALLS.md §Celery), so each test starts `celery -A portal worker` as a subprocess on a queue of
its own, sends the task through a broker, and polls the database until the worker has done its job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from celery import Celery
from django.db import transaction

from accounts.tasks import clear_expired_sessions
from portal.celery import app as portal_celery_app
from tests.integration import unique_queue_name

if TYPE_CHECKING:
    from tests.integration.conftest import SessionRows, StartWorker

TASK_NAME = "accounts.clear_expired_sessions"


def test_task_keeps_its_stable_name():
    assert clear_expired_sessions.name == TASK_NAME


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_clears_expired_sessions(
    redis_url: str, redis_queue: str, start_celery_worker: StartWorker, session_rows: SessionRows
):
    # The test process's app read REDIS_URL when it was imported: it publishes to that same Redis.
    assert portal_celery_app.conf.broker_url == redis_url, (
        f"the test process's Celery broker is {portal_celery_app.conf.broker_url!r}, not REDIS_URL={redis_url!r}"
    )
    worker = start_celery_worker(queue=redis_queue, env={"REDIS_URL": redis_url, "CELERY_BROKER_URL": None})

    clear_expired_sessions.apply_async(queue=redis_queue)

    seconds = worker.wait_for(session_rows.expired_gone, what="the worker deleting the expired session")
    assert session_rows.live_present(), "the worker deleted a session that has not expired"
    print(f"Redis broker: the worker cleared the expired session {seconds:.1f}s after it was started")


def filesystem_transport_options(var_dir: Path) -> dict:
    """The embedded broker's options as portal settings derive them from PRAHARI_VAR_DIR."""
    broker_dir = var_dir / "broker"
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "control_folder": str(broker_dir / "control"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_on_embedded_filesystem_broker_clears_expired_sessions(
    tmp_path: Path, start_celery_worker: StartWorker, session_rows: SessionRows
):
    var_dir = tmp_path / "var"
    options = filesystem_transport_options(var_dir)
    for key in ("data_folder_in", "control_folder", "processed_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    queue = unique_queue_name()
    # No REDIS_URL: the worker's settings choose the filesystem broker under PRAHARI_VAR_DIR.
    worker = start_celery_worker(
        queue=queue, env={"REDIS_URL": None, "CELERY_BROKER_URL": None, "PRAHARI_VAR_DIR": str(var_dir)}
    )

    # A separate app publishes into the same folders; the global app (maybe on Redis) stays untouched.
    producer = Celery("prahari-integration-producer", set_as_current=False, fixups=[])
    producer.conf.update(
        broker_url="filesystem://",
        broker_transport_options=options,
        task_serializer="json",
        accept_content=["json"],
    )
    try:
        producer.send_task(TASK_NAME, queue=queue)
    finally:
        producer.close()

    seconds = worker.wait_for(session_rows.expired_gone, what="the worker deleting the expired session")
    assert session_rows.live_present(), "the worker deleted a session that has not expired"
    leftovers = [name for name in Path(options["data_folder_in"]).iterdir() if name.name.endswith(f".{queue}.msg")]
    assert leftovers == [], f"messages left in the broker folder: {leftovers}"
    print(f"Filesystem broker: the worker cleared the expired session {seconds:.1f}s after it was started")


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_delay_on_commit_publishes_only_when_the_transaction_commits(
    redis_url: str, redis_queue: str, start_celery_worker: StartWorker, session_rows: SessionRows
):
    broker = redis.Redis.from_url(redis_url)

    with pytest.raises(RuntimeError), transaction.atomic():
        clear_expired_sessions.apply_async_on_commit(queue=redis_queue)
        raise RuntimeError("the change that would have caused the task is rolled back")
    assert broker.llen(redis_queue) == 0, "a rolled-back transaction must not publish its task"

    with transaction.atomic():
        clear_expired_sessions.apply_async_on_commit(queue=redis_queue)
        assert broker.llen(redis_queue) == 0, "nothing is published before the commit"
    assert broker.llen(redis_queue) == 1

    worker = start_celery_worker(queue=redis_queue, env={"REDIS_URL": redis_url, "CELERY_BROKER_URL": None})
    worker.wait_for(session_rows.expired_gone, what="the worker running the committed task")
    assert session_rows.live_present()
