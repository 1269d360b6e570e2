"""Beat schedules live in django-celery-beat's database scheduler, created by migration."""

import pytest
from django_celery_beat.models import PeriodicTask

from portal.celery import app


@pytest.mark.django_db
def test_outbox_drain_and_session_cleanup_are_scheduled_to_real_tasks():
    app.loader.import_default_modules()
    scheduled = {p.task: p for p in PeriodicTask.objects.filter(enabled=True)}
    for task in ("accounts.drain_notifications", "accounts.clear_expired_sessions"):
        assert task in scheduled
        assert task in app.tasks, f"{task} is scheduled but no such task is registered"
    assert (
        scheduled["accounts.drain_notifications"].interval.every,
        scheduled["accounts.drain_notifications"].interval.period,
    ) == (1, "minutes")


@pytest.mark.django_db
def test_governance_jobs_are_scheduled_to_real_tasks():
    app.loader.import_default_modules()
    scheduled = {p.task: p for p in PeriodicTask.objects.filter(enabled=True)}
    daily = {"dormancy": "1", "reverification": "1", "retention": "3", "partitions": "2"}  # hour, Asia/Kolkata
    for job, hour in daily.items():
        task = scheduled[f"governance.{job}"]
        assert f"governance.{job}" in app.tasks
        assert (task.crontab.hour, task.crontab.day_of_month, str(task.crontab.timezone)) == (hour, "*", "Asia/Kolkata")
    assert scheduled["governance.invitations"].interval.period == "hours"
    for job in ("anomalies", "checkpoints"):
        interval = scheduled[f"governance.{job}"].interval
        assert (interval.every, interval.period) == (10, "minutes") and f"governance.{job}" in app.tasks
