"""Two Celery queues: the outbox's tasks on one, governance jobs and housekeeping on the other, routed by name.

The table below is written out by hand, not read from the settings: a task moved to the wrong queue, or a
new task no one placed, fails here.
"""

from __future__ import annotations

import json
import os

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from portal.celery import app as celery_app
from portal.settings.queues import NOTIFICATION_RETRY_MAX_SECONDS
from tests.integration import reachable_redis_url

EXPECTED = {
    "accounts.send_notification": "notifications",
    "accounts.drain_notifications": "notifications",
    "accounts.clear_expired_sessions": "governance",
    "accounts.prune_axes_logs": "governance",
    "governance.invitations": "governance",
    "governance.dormancy": "governance",
    "governance.reverification": "governance",
    "governance.explain": "governance",
    "governance.anomalies": "governance",
    "governance.retention": "governance",
    "governance.checkpoints": "governance",
    "governance.partitions": "governance",
}


def broker_queue(kind: str) -> str:
    return f"{settings.PRAHARI_QUEUE_PREFIX}-{kind}"


def routed_queue(task_name: str, options: dict | None = None) -> str:
    """The broker queue a message for `task_name` goes to, as the app's router decides before publishing."""
    return celery_app.amqp.router.route(dict(options or {}), task_name)["queue"].name


def our_tasks() -> set[str]:
    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def test_every_task_is_placed_on_a_queue_by_this_table():
    assert our_tasks() == set(EXPECTED)


@pytest.mark.parametrize(("task_name", "kind"), sorted(EXPECTED.items()))
def test_each_task_goes_to_its_queue(task_name, kind):
    assert routed_queue(task_name) == broker_queue(kind)


def test_the_queue_names_carry_the_celery_queue_prefix_and_workers_select_them_by_kind():
    assert (os.environ.get("CELERY_QUEUE") or "prahari") == settings.PRAHARI_QUEUE_PREFIX
    for kind in ("notifications", "governance"):
        assert celery_app.amqp.queues[kind].name == broker_queue(kind)  # `celery worker --queues notifications`
    # A worker started without --queues (make run's) consumes both.
    assert set(celery_app.amqp.queues.consume_from) == {broker_queue("notifications"), broker_queue("governance")}


@pytest.mark.django_db
def test_beat_schedules_of_the_migrations_reach_the_same_queues():
    """Beat passes each schedule's options (queue None unless set in the console) to the router."""
    scheduled = PeriodicTask.objects.exclude(task__startswith="celery.")
    assert scheduled.count() >= 9
    for periodic in scheduled:
        entry = ModelEntry(periodic, app=celery_app)
        assert routed_queue(entry.task, entry.options) == broker_queue(EXPECTED[entry.task]), periodic.name


def test_late_acknowledgement_and_a_visibility_timeout_longer_than_any_job_or_retry():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit == settings.PRAHARI_JOB_TIME_LIMIT_MINUTES * 60
    assert conf.task_time_limit > conf.task_soft_time_limit
    send_notification = celery_app.tasks["accounts.send_notification"]
    assert send_notification.retry_backoff_max <= NOTIFICATION_RETRY_MAX_SECONDS
    assert send_notification.reject_on_worker_lost is True
    assert celery_app.tasks["governance.anomalies"].reject_on_worker_lost in (None, False)
    if settings.REDIS_URL:
        visibility = conf.broker_transport_options["visibility_timeout"]
        assert visibility > conf.task_time_limit
        assert visibility > send_notification.retry_backoff_max


@pytest.mark.redis
def test_a_published_task_lands_in_its_queue_on_redis():
    """Through the real broker: the outbox's send and a governance job each land in their own Redis list."""
    import redis

    client = redis.Redis.from_url(reachable_redis_url())
    sent = {
        # As the outbox queues a send (accounts.services.notifications.task_send): by name.
        "notifications": celery_app.send_task("accounts.send_notification", args=[0]),
        "governance": celery_app.tasks["governance.dormancy"].apply_async(),
    }
    try:
        for kind, result in sent.items():
            other = "governance" if kind == "notifications" else "notifications"
            assert _message_in(client, broker_queue(kind), result.id), f"{kind} task not in {broker_queue(kind)}"
            assert not _message_in(client, broker_queue(other), result.id)
    finally:
        for kind, result in sent.items():
            _message_remove(client, broker_queue(kind), result.id)
        client.close()


def _raw_message(client, queue: str, task_id: str) -> bytes | None:
    for raw in client.lrange(queue, 0, -1):
        if json.loads(raw)["headers"]["id"] == task_id:
            return raw
    return None


def _message_in(client, queue: str, task_id: str) -> bool:
    return _raw_message(client, queue, task_id) is not None


def _message_remove(client, queue: str, task_id: str) -> None:
    raw = _raw_message(client, queue, task_id)
    if raw is not None:
        client.lrem(queue, 1, raw)
