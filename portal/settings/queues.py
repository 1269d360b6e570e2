"""The Celery settings: the broker, two queues with tasks routed to them by name, late acknowledgement.

Notifications (the outbox's SMS and e-mail) and governance jobs (sweeps, housekeeping) have a queue
each, consumed by separate workers, so a long sweep never holds up a message. `CELERY_QUEUE` is the
prefix of both names (tests give each run its own). Every task named here must exist and every task
must be named here (tests/portal/test_celery_routing.py).
"""

from __future__ import annotations

from pathlib import Path

NOTIFICATIONS = "notifications"
GOVERNANCE = "governance"

ROUTES = {
    "accounts.send_notification": NOTIFICATIONS,
    "accounts.drain_notifications": NOTIFICATIONS,
    "accounts.clear_expired_sessions": GOVERNANCE,
    "accounts.prune_axes_logs": GOVERNANCE,
    "governance.*": GOVERNANCE,  # one task per job (governance/tasks.py)
}

# The longest a notification's retry waits (accounts/tasks.py): the broker must hold it longer than that.
NOTIFICATION_RETRY_MAX_SECONDS = 30 * 60


def queue_name(prefix: str, kind: str) -> str:
    """The broker's name of the `kind` queue ("notifications" or "governance") under `prefix`."""
    return f"{prefix}-{kind}"


def celery_settings(*, prefix: str, redis_url: str | None, var_dir: Path, job_minutes: int) -> dict:
    """Return the CELERY_* settings; `job_minutes` is the soft time limit of any task, the longest job."""
    soft_limit = job_minutes * 60
    hard_limit = soft_limit + 5 * 60  # the soft limit rolls the job's transaction back; this ends a stuck one
    queues = {
        queue_name(prefix, kind): {"exchange": queue_name(prefix, kind), "routing_key": queue_name(prefix, kind)}
        for kind in (NOTIFICATIONS, GOVERNANCE)
    }
    for kind in (NOTIFICATIONS, GOVERNANCE):
        queues[queue_name(prefix, kind)]["alias"] = kind  # `celery worker -Q notifications` whatever the prefix
    settings = {
        "CELERY_TASK_QUEUES": queues,
        # A worker started without -Q consumes both queues (`make run`); an unrouted task goes to governance.
        "CELERY_TASK_DEFAULT_QUEUE": queue_name(prefix, GOVERNANCE),
        "CELERY_TASK_ROUTES": {task: {"queue": queue_name(prefix, kind)} for task, kind in ROUTES.items()},
        # Acknowledged after the task ran: a worker that dies mid-task leaves the message to be delivered
        # again (every task is idempotent). Tasks that may be put back when their worker process is lost
        # say so themselves (accounts/tasks.py); a sweep that exhausts memory would only be killed again.
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        "CELERY_TASK_SOFT_TIME_LIMIT": soft_limit,
        "CELERY_TASK_TIME_LIMIT": hard_limit,
        "CELERY_TASK_IGNORE_RESULT": True,
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_TIMEZONE": "UTC",
        "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True,
        # One beat at a time: the others stand by on a PostgreSQL advisory lock (portal/beat.py).
        "CELERY_BEAT_SCHEDULER": "portal.beat:SingleBeatScheduler",
    }
    if redis_url:
        # Redis hands an unacknowledged message to another worker after the visibility timeout: it must
        # outlast the longest job (its hard limit) and the longest retry countdown, or a job would run twice.
        visibility = max(hard_limit, NOTIFICATION_RETRY_MAX_SECONDS) + 60 * 60
        settings["CELERY_BROKER_URL"] = redis_url
        settings["CELERY_BROKER_TRANSPORT_OPTIONS"] = {"visibility_timeout": visibility}
    else:
        broker_dir = var_dir / "broker"
        for folder in ("queue", "control", "processed"):
            (broker_dir / folder).mkdir(parents=True, exist_ok=True)
        settings["CELERY_BROKER_URL"] = "filesystem://"
        settings["CELERY_BROKER_TRANSPORT_OPTIONS"] = {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "control_folder": str(broker_dir / "control"),
            "processed_folder": str(broker_dir / "processed"),
            "store_processed": False,
        }
    return settings
