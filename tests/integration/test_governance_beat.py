"""Beat fires a governance job on a short schedule, a real worker runs it against real Redis, and the
database shows the suspension with its history row (issue 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.models import Status, SuspensionCause, User
from accounts.services.system import system_user
from portal.celery import app as portal_celery_app
from tests.factories import DistrictFactory, FacilityFactory, StateFactory, WorkerFactory


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_runs_the_dormancy_job_through_a_worker(redis_url, redis_queue, start_celery_worker, start_celery_beat):
    assert portal_celery_app.conf.broker_url == redis_url
    facility = FacilityFactory(district=DistrictFactory(state=StateFactory()))
    dormant = WorkerFactory(facility=facility, last_login=timezone.now() - timedelta(days=50))
    recent = WorkerFactory(facility=facility, last_login=timezone.now() - timedelta(days=1))
    system = system_user()
    PeriodicTask.objects.update(enabled=False)  # only the schedule under test fires
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test: dormancy every second", task="governance.dormancy", interval=every_second, queue=redis_queue
    )
    env = {"REDIS_URL": redis_url, "CELERY_BROKER_URL": None}
    worker = start_celery_worker(queue=redis_queue, env=env)
    start_celery_beat(env=env)

    def suspended() -> bool:
        return User.objects.filter(pk=dormant.pk, status=Status.SUSPENDED).exists()

    seconds = worker.wait_for(suspended, what="beat and the worker suspending the dormant account", timeout=90)
    dormant.refresh_from_db()
    assert dormant.suspension_cause == SuspensionCause.DORMANT
    history = dormant.history.latest("history_date")
    assert history.history_user == system and "governance job dormancy" in history.history_change_reason
    assert User.objects.get(pk=recent.pk).status == Status.ACTIVE
    print(f"beat → worker → dormancy suspension {seconds:.1f}s after the worker started")
