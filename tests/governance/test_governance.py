"""Governance jobs: dormancy at 44/45/46 days, idempotent, set-based, one at a time, digests, the command."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, Notification, Status, SuspensionCause, User, UserSession
from governance.jobs import job_lock, job_run
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def idle_for(user: User, days: float, now=None) -> None:
    User.objects.filter(pk=user.pk).update(last_login=(now or timezone.now()) - timedelta(days=days))


def run(job="dormancy", **kwargs) -> dict:
    return job_run(job, **kwargs)


@pytest.mark.parametrize(("days", "warned", "suspended"), [(29, 0, 0), (30, 1, 0), (44, 1, 0), (45, 0, 1), (46, 0, 1)])
def test_dormancy_boundaries(world, days, warned, suspended):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    now = timezone.now()
    idle_for(world.worker, days, now)
    with freeze_time(now):
        summary = run(now=now)
    assert (summary["warned"], summary["suspended"]) == (warned, suspended)
    world.worker.refresh_from_db()
    assert world.worker.status == (Status.SUSPENDED if suspended else Status.ACTIVE)
    assert Notification.objects.filter(user=world.worker, kind="dormancy_warning").exists() == bool(warned)


def test_a_dormant_account_is_suspended_by_the_system_with_history_sessions_and_a_digest(world):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    UserSession.objects.create(
        session_key="s" * 40, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=world.worker
    )
    idle_for(world.worker, 50)
    idle_for(world.colleague, 60)
    run()
    for user in (world.worker, world.colleague):
        user.refresh_from_db()
        assert (user.status, user.suspension_cause) == (Status.SUSPENDED, SuspensionCause.DORMANT)
        history = user.history.latest("history_date")
        assert history.history_user == world.system and "governance job dormancy" in history.history_change_reason
        event = AccountEvent.objects.get(subject=user, type=AccountEventType.USER_SUSPENDED)
        assert event.actor == world.system and event.data["cause"] == "dormant"
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert (
        AccountEvent.objects.get(subject=world.worker, type=AccountEventType.USER_SUSPENDED).data["sessions_ended"] == 1
    )
    digests = Notification.objects.filter(kind="governance_digest", channel="sms")
    # One message per governor (the district's two supervisors), each naming both accounts.
    assert sorted(d.user.username for d in digests) == ["dio.lucknow", "dio2.lucknow"]
    assert all(d.context["count"] == 2 and "asha" in d.context["names"] for d in digests)
    assert Notification.objects.filter(kind="account_suspended", user=world.worker).count() == 2  # SMS + e-mail


def test_an_account_that_never_logged_in_counts_from_its_approval(world):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    User.objects.filter(pk=world.worker.pk).update(
        last_login=None, status_changed_at=timezone.now() - timedelta(days=46)
    )
    assert run()["suspended"] == 1


def test_a_second_run_changes_and_sends_nothing(world):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    idle_for(world.worker, 50)
    idle_for(world.colleague, 35)
    first = run()
    notes, events = Notification.objects.count(), AccountEvent.objects.count()
    second = run()
    assert (first["warned"], first["suspended"]) == (1, 1)
    assert (second["warned"], second["suspended"]) == (0, 0)
    assert (Notification.objects.count(), AccountEvent.objects.count()) == (notes, events)


def test_a_dry_run_changes_nothing(world):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    idle_for(world.worker, 50)
    summary = run(dry_run=True)
    assert summary["suspended"] == 1 and summary["dry_run"] is True
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE and not Notification.objects.exists()


def _dormant_workers(world, n: int) -> None:
    for _ in range(n):
        WorkerFactory(facility=world.facility, last_login=timezone.now() - timedelta(days=50))


def test_dormancy_queries_do_not_grow_with_the_accounts(world):
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    counts = []
    for n in (3, 30):
        _dormant_workers(world, n)
        with CaptureQueriesContext(connection) as queries:
            assert run()["suspended"] == n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_command_prints_one_line_of_json(world):
    out = StringIO()
    call_command("governance", "dormancy", "--dry-run", stdout=out)
    line = out.getvalue().strip()
    assert "\n" not in line and json.loads(line)["job"] == "dormancy"
    out = StringIO()
    call_command("governance", "all", stdout=out)
    assert [j["job"] for j in json.loads(out.getvalue())["jobs"]] == [
        "invitations",
        "dormancy",
        "reverification",
        "explain",
        "anomalies",
        "retention",
        "checkpoints",
        "partitions",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_only_one_acts(world):
    holding, release, result = threading.Event(), threading.Event(), {}

    def first():
        try:
            with job_lock("dormancy") as held:
                result["first"] = held
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(30)
    try:
        result["second"] = job_run("dormancy")
    finally:
        release.set()
        thread.join(30)
    assert result["first"] is True and result["second"]["skipped"]
    assert "suspended" in job_run("dormancy")  # the lock is free again


def test_reverification_reminds_owners_and_sends_each_governor_one_digest(world):
    now = timezone.now()
    due = now + timedelta(days=10)  # inside the 14-day reminder
    User.objects.filter(pk__in=[world.worker.pk, world.colleague.pk]).update(review_due_at=due)
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=now - timedelta(hours=1))  # overdue
    summary = job_run("reverification", now=now)
    assert (summary["reminded"], summary["suspended"]) == (2, 1)
    assert Notification.objects.filter(kind="review_due", channel="sms").count() == 2
    digests = Notification.objects.filter(kind="governance_digest", channel="sms")
    reminded = sorted((d.user.username, d.context["count"]) for d in digests if d.context["action"] == "reminded")
    assert reminded == [("dio.lucknow", 2), ("dio2.lucknow", 2)]  # one message each for both accounts
    suspended = sorted(d.user.username for d in digests if d.context["action"] == "suspended")
    assert suspended == ["dio.lucknow", "dio2.lucknow"]
    world.district_worker.refresh_from_db()
    assert world.district_worker.suspension_cause == SuspensionCause.REVERIFICATION_OVERDUE
    assert job_run("reverification", now=now)["reminded"] == 0  # nothing twice
