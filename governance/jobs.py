"""The governance jobs of ARCHITECTURE.md §7: what notices a risky account when nobody is watching.

Each job is a function `(now, dry_run) -> summary dict`, run by `job_run(name)` inside one transaction
(a crash leaves nothing half-done; the next run converges) under a per-job advisory lock (a second
concurrent run exits with "skipped"). Every job is set-based (a fixed number of statements whatever the
number of accounts) and idempotent (a second run changes nothing and sends nothing). Changes go
through the lifecycle services as the system actor, with the job named in the reason; supervisors
get one digest per job run listing their accounts, never one message per account (governance/digests.py).

`manage.py governance JOB [--dry-run]` and the Celery beat tasks (governance/tasks.py) both call
`job_run`. JOBS names every job, in the order `all` runs them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Notification, Status, SuspensionCause, User
from accounts.services.lifecycle import users_suspend_matching
from accounts.services.notifications import notify_users_matching
from accounts.services.onboarding import invitations_expire
from accounts.services.retention import axes_logs_prune, history_prune
from accounts.services.sessions import sessions_clear_expired
from accounts.services.system import system_user
from governance.anomalies import anomalies
from governance.digests import digest_send_for_ids
from governance.explain import explain
from governance.metrics import job_observed, jobs_exported
from governance.reviews import review_reminders_send, reviews_overdue_suspend_ids
from governance.tallies import view_tallies_prune
from records.checkpoints import checkpoints
from records.partitions import partitions

JobFunction = Callable[..., dict]


@contextmanager
def job_lock(name: str):
    """Yield True inside the job's transaction when this run holds the job's lock, False when another does."""
    key = int.from_bytes(hashlib.sha256(f"prahari.job.{name}".encode()).digest()[:8], "big", signed=True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            held = cursor.fetchone()[0]
        yield held


def job_run(name: str, *, dry_run: bool = False, now: datetime | None = None) -> dict:
    """Run one job (or "all", in JOB_ORDER) now; return its one-line summary."""
    if name == "all":
        return {"job": "all", "dry_run": dry_run, "jobs": [job_run(n, dry_run=dry_run, now=now) for n in JOB_ORDER]}
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}; jobs: {', '.join((*JOB_ORDER, 'all'))}")
    now = now or timezone.now()
    with job_observed(name) as run, job_lock(name) as held:  # counted and timed for /metrics (governance/metrics.py)
        if not held:
            run.outcome = "skipped"
            return {"job": name, "skipped": "another run of this job holds its lock"}
        summary = JOBS[name](now=now, dry_run=dry_run)
        if dry_run:
            run.outcome = "dry_run"
            transaction.set_rollback(True)  # a dry run reports what it would do and keeps nothing
    return {"job": name, "dry_run": dry_run, **summary}


def dormancy(*, now: datetime, dry_run: bool = False) -> dict:
    """Warn accounts without a full login for PRAHARI_DORMANCY_WARN_DAYS; suspend them at
    PRAHARI_DORMANCY_SUSPEND_DAYS (sessions end; owners and governors are told).

    The last full login is `last_login`; an account that never logged in counts from its approval
    (`status_changed_at`) or creation. Superusers (set-up accounts) are left to their own process.
    """
    warn_at = now - timedelta(days=settings.PRAHARI_DORMANCY_WARN_DAYS)
    suspend_at = now - timedelta(days=settings.PRAHARI_DORMANCY_SUSPEND_DAYS)
    active = User.objects.filter(status=Status.ACTIVE, is_system=False, is_superuser=False).annotate(
        last_seen=Coalesce("last_login", "status_changed_at", "date_joined")
    )
    warned = notify_users_matching(
        active.filter(last_seen__lte=warn_at, last_seen__gt=suspend_at),
        kind="dormancy_warning",
        key_prefix="dormancy_warning",
        key_date="last_seen",
        context={"days": settings.PRAHARI_DORMANCY_SUSPEND_DAYS},
    )
    suspended = users_suspend_matching(
        active.filter(last_seen__lte=suspend_at),
        acting_user=system_user(),
        reason=f"governance job dormancy: no full login for {settings.PRAHARI_DORMANCY_SUSPEND_DAYS} days",
        cause=SuspensionCause.DORMANT,
        now=now,
    )
    digest_send_for_ids(job_name="dormancy", action="suspended", ids=suspended, run_at=now)
    return {"warned": len(warned), "suspended": len(suspended)}


# --- Re-verification ------------------------------------------------------------------------------------


def reverification(*, now: datetime, dry_run: bool = False) -> dict:
    """Remind accounts 14, 7 and 1 days before their review is due; suspend the overdue ones (cause
    reverification_overdue); each governor gets one digest of the reminded and one of the suspended."""
    reminded = review_reminders_send(now=now)
    digest_send_for_ids(job_name="reverification", action="reminded", ids=[u.pk for u in reminded], run_at=now)
    suspended = reviews_overdue_suspend_ids(now=now)
    digest_send_for_ids(job_name="reverification", action="suspended", ids=suspended, run_at=now)
    return {"reminded": len(reminded), "suspended": len(suspended)}


# --- Invitations and retention ----------------------------------------------------------------------


def invitations(*, now: datetime, dry_run: bool = False) -> dict:
    """Close lapsed invitation links; expire invited accounts left without an open link."""
    return invitations_expire(acting_user=system_user(), now=now)


def retention(*, now: datetime, dry_run: bool = False) -> dict:
    """Prune what policy lets go: django-axes logs, expired sessions, sent or failed outbox rows older
    than 30 days (their texts are already erased), history rows past PRAHARI_HISTORY_RETENTION_DAYS,
    the console's view tallies older than it shows (governance/tallies.py).

    Never an access event (the `partitions` job drops whole months of them, each after its signed cut:
    records/partitions.py) and never a history row inside its retention period.
    """

    outbox, _ = Notification.objects.filter(
        state__in=[Notification.State.SENT, Notification.State.FAILED], created_at__lt=now - timedelta(days=30)
    ).delete()
    return {
        "axes_rows": axes_logs_prune(now=now),
        "sessions": sessions_clear_expired(),
        "outbox_rows": outbox,
        "history_rows": history_prune(now=now),
        "view_tally_rows": view_tallies_prune(now=now),
    }


# Every job, in the order `all` runs them.
JOBS: dict[str, JobFunction] = {
    "invitations": invitations,
    "dormancy": dormancy,
    "reverification": reverification,
    "explain": explain,
    "anomalies": anomalies,
    "retention": retention,
    "checkpoints": checkpoints,
    "partitions": partitions,
}
JOB_ORDER = tuple(JOBS)
jobs_exported(JOB_ORDER)
