"""Two real beat processes on one database: the second stands by and sends nothing until the first dies."""

from __future__ import annotations

import re
import time

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from portal.celery import app as portal_celery_app

HOLDS = "this beat holds the beat lock"
STANDS_BY = "stands by"
WAIT_SECONDS = 60.0


def sent(beat, name: str) -> int:
    """How many times `beat`'s log says it sent the schedule `name`."""
    return len(re.findall(rf"Sending due task {re.escape(name)} ", beat.output()))


def wait_until(condition, *, what: str, beats) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- beat {n} ---\n{beat.output()}" for n, beat in enumerate(beats))
            pytest.fail(f"{what}: not within {WAIT_SECONDS:.0f}s\n{logs}", pytrace=False)
        time.sleep(0.2)


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(redis_url, redis_queue, start_celery_beat):
    assert portal_celery_app.conf.broker_url == redis_url
    PeriodicTask.objects.update(enabled=False)  # only the schedule under test fires
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    name = "test: sessions every second"
    PeriodicTask.objects.create(
        name=name, task="accounts.clear_expired_sessions", interval=every_second, queue=redis_queue
    )
    env = {"REDIS_URL": redis_url, "CELERY_BROKER_URL": None}

    first = start_celery_beat(env=env)
    wait_until(lambda: sent(first, name) >= 1, what="the first beat sending the schedule", beats=[first])
    assert HOLDS in first.output()
    second = start_celery_beat(env=env)
    wait_until(lambda: STANDS_BY in second.output(), what="the second beat standing by", beats=[first, second])
    sent_before = sent(first, name)
    wait_until(lambda: sent(first, name) >= sent_before + 2, what="the first beat sending on", beats=[first, second])
    assert sent(second, name) == 0, "a standing-by beat sent a task"
    assert HOLDS not in second.output()

    first.process.kill()  # dies without a word: no unlock, no clean close; its session ends with it
    first.process.wait(timeout=WAIT_SECONDS)

    wait_until(lambda: sent(second, name) >= 1, what="the second beat taking over", beats=[first, second])
    assert HOLDS in second.output()
