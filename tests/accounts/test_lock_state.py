"""What the console is told of a lock: `lock_state` for one account and `locked_now_q` for many agree
with django-axes' own verdict and with the holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from accounts.models import LoginHold, User
from accounts.services.lockouts import lock_state, locked_now_q

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def attempt(user, ip, failures, *, ago):
    row = AccessAttempt.objects.create(
        username=user.username, ip_address=ip, user_agent="t", failures_since_start=failures, get_data="", post_data=""
    )
    AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - ago)


def locked_names(world) -> set[str]:
    return set(User.objects.filter(locked_now_q()).values_list("username", flat=True))


def test_an_account_without_failures_is_not_locked(world):
    state = lock_state(world.worker)
    assert (state.locked, state.failures, state.locked_until, state.held_since) == (False, 0, None, None)
    assert world.worker.username not in locked_names(world)


def test_failures_below_the_limit_are_counted_but_do_not_lock(world, settings):
    attempt(world.worker, "10.0.0.1", settings.AXES_FAILURE_LIMIT - 1, ago=MINUTE)
    state = lock_state(world.worker)
    assert state.failures == settings.AXES_FAILURE_LIMIT - 1 and not state.locked
    assert world.worker.username not in locked_names(world)


def test_the_lock_ends_when_the_newest_rows_that_reach_the_limit_age_out(world, settings):
    limit = settings.AXES_FAILURE_LIMIT
    attempt(world.worker, "10.0.0.1", limit - 3, ago=10 * MINUTE)
    attempt(world.worker, "10.0.0.2", 3, ago=2 * MINUTE)
    attempt(world.worker, "10.0.0.3", 1, ago=1 * MINUTE)
    state = lock_state(world.worker)
    oldest = AccessAttempt.objects.get(ip_address="10.0.0.1").attempt_time
    assert state.locked and state.failures == limit + 1
    assert state.locked_until == oldest + timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES)
    assert locked_names(world) == {world.worker.username}


def test_failures_older_than_the_cool_off_do_not_count(world, settings):
    attempt(
        world.worker,
        "10.0.0.1",
        settings.AXES_FAILURE_LIMIT,
        ago=timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES + 1),
    )
    assert not lock_state(world.worker).locked and locked_names(world) == set()


def test_an_open_hold_locks_and_a_cleared_one_does_not(world):
    hold = LoginHold.objects.create(user=world.worker, lockouts=3)
    state = lock_state(world.worker)
    assert state.locked and state.locked_until is None and state.held_since == hold.created_at
    assert locked_names(world) == {world.worker.username}
    LoginHold.objects.filter(pk=hold.pk).update(cleared_at=timezone.now(), cleared_by=world.supervisor)
    assert not lock_state(world.worker).locked and locked_names(world) == set()


def test_the_console_count_is_one_statement(world, settings, django_assert_num_queries):
    attempt(world.worker, "10.0.0.1", settings.AXES_FAILURE_LIMIT, ago=MINUTE)
    with django_assert_num_queries(1):
        assert User.objects.filter(locked_now_q()).count() == 1


def test_an_unlock_also_lifts_the_back_off_of_the_codes(world):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services.lockouts import lockout_clear

    device = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=9, throttling_failure_timestamp=timezone.now()
    )
    device.refresh_from_db()
    assert not device.verify_is_allowed()[0]
    attempt(world.worker, "10.0.0.1", 10, ago=MINUTE)
    lockout_clear(user=world.worker, acting_user=world.supervisor, reason="confirmed by phone with the worker")
    device.refresh_from_db()
    assert device.throttling_failure_count == 0 and device.verify_is_allowed()[0]
    assert not lock_state(world.worker).locked
