"""Lifecycle services lock the account row: a concurrent change waits, then sees the fresh status."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.exceptions import IllegalTransition
from accounts.models import AccountEvent, AccountEventType, User
from accounts.services.lifecycle import user_suspend


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_suspension_waits_for_the_lock_then_refuses(world):
    pk = world.worker.pk
    stale = User.objects.get(pk=pk)  # read before the other transaction commits: status "active"
    holding, release, outcome = threading.Event(), threading.Event(), {}

    def first_supervisor():
        try:
            with transaction.atomic():
                row = User.objects.select_for_update().get(pk=pk)
                user_suspend(user=row, acting_user=world.supervisor, reason="first")
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    def second_supervisor():
        try:
            user_suspend(user=stale, acting_user=world.peer_supervisor, reason="second")
            outcome["result"] = "suspended again"
        except IllegalTransition as error:
            outcome["result"] = str(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=first_supervisor)
    first.start()
    assert holding.wait(30)
    second = threading.Thread(target=second_supervisor)
    second.start()
    deadline = time.monotonic() + 30
    while _lock_waiters() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lock_waiters() == 1, "the second suspension should be waiting on the row lock"
    release.set()
    first.join(30)
    second.join(30)

    assert outcome["result"] == "This account cannot be suspended: it is suspended."
    assert AccountEvent.objects.filter(subject_id=pk, type=AccountEventType.USER_SUSPENDED).count() == 1
