"""The set-based SQL path of the jobs (PostgreSQL) writes what the ORM path writes, field by field.

Each test builds accounts covering the cases (sessions, addresses to strip, a key long enough to be
hashed, a supervisor whose digest goes to the state, microseconds or none), runs the job once with
PRAHARI_SET_BASED_JOBS off (the ORM path), rolls it back, runs it on the SQL path, and compares
the accounts, history rows, events, outbox rows and sessions left, ids and wall-clock stamps aside.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, Notification, SuspensionCause, User, UserSession
from accounts.services import notifications
from accounts.services.governance import job_run
from accounts.services.lifecycle import users_suspend_matching
from accounts.services.reviews import reviews_overdue_suspend_ids
from accounts.services.setsql import PY_WHITESPACE, isoformat_sql, own_table_where, set_based
from tests.factories import SupervisorFactory, WorkerFactory
from tests.integration import skip_or_fail

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
LONG_EMAIL = "a" * 170 + "@example.org"  # its outbox key passes 200 characters: stored as a sha256 digest


def test_py_whitespace_is_what_str_strip_removes():
    assert set(PY_WHITESPACE) == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        skip_or_fail("the set-based path is PostgreSQL's: set DATABASE_URL (CI does)")


@pytest.mark.postgres
def test_isoformat_sql_is_python_isoformat(postgres):
    moments = [NOW, NOW.replace(microsecond=0), NOW.replace(microsecond=5), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)]
    with connection.cursor() as cursor:
        for moment in moments:
            cursor.execute(f"SELECT {isoformat_sql('m')} FROM (SELECT %s::timestamptz AS m) AS t", [moment])
            assert cursor.fetchone()[0] == moment.isoformat()


def _session(user: User, key: str) -> None:
    UserSession.objects.create(session_key=key * 40, session_data="", expire_date=NOW + timedelta(hours=1), user=user)


def _accounts(world) -> None:
    """Dormant and idle accounts of every kind the job treats differently."""
    User.objects.filter(is_system=False).update(last_login=NOW)
    _session(world.worker, "a")
    _session(world.worker, "b")
    _session(world.colleague, "c")  # stays: the colleague is active
    User.objects.filter(pk=world.worker.pk).update(last_login=NOW - timedelta(days=50), email="  asha@example.org\t")
    User.objects.filter(pk=world.district_worker.pk).update(
        last_login=NOW - timedelta(days=46), email=LONG_EMAIL, mobile="", preferred_language="en"
    )
    User.objects.filter(pk=world.far_supervisor.pk).update(last_login=NOW - timedelta(days=60))  # told to sa.up
    User.objects.filter(pk=world.far_worker.pk).update(last_login=None, status_changed_at=NOW - timedelta(days=47))
    User.objects.filter(pk=world.colleague.pk).update(last_login=NOW - timedelta(days=31, microseconds=NOW.microsecond))
    User.objects.filter(pk=world.state_admin.pk).update(last_login=NOW - timedelta(days=40, seconds=1))
    for n in range(4):  # the digest names three and cuts the rest
        WorkerFactory(username=f"zz.worker{n}", facility=world.facility, last_login=NOW - timedelta(days=45))
    WorkerFactory(username="mobile.only", facility=world.facility, email="", last_login=NOW - timedelta(days=55))


def _snapshot(since_event: int, since_note: int, since_history: int) -> dict:
    accounts = list(
        User.objects.order_by("pk").values_list(
            "pk", "status", "suspension_cause", "status_reason", "status_changed_at", "is_active"
        )
    )
    history = sorted(
        tuple(
            (f, v)
            for f, v in row.items()
            if f not in ("history_id",)  # the date is the job's `now` on both paths: compared
        )
        for row in User.history.filter(history_id__gt=since_history).values()
    )
    events = sorted(
        (e.type, e.actor_id, e.subject_id, e.reason, e.ip_address, sorted(e.data.items()))
        for e in AccountEvent.objects.filter(pk__gt=since_event)
    )
    notes = sorted(
        (n.user_id, n.channel, n.to, n.kind, n.language, sorted(n.context.items()), n.idempotency_key, n.state)
        for n in Notification.objects.filter(pk__gt=since_note)
    )
    sessions = sorted(UserSession.objects.values_list("session_key", "user_id"))
    return {"accounts": accounts, "history": history, "events": events, "notes": notes, "sessions": sessions}


def _both_paths(settings, run) -> tuple[dict, dict]:
    """(ORM path's result and rows, SQL path's), each from the same starting rows."""
    marks = (
        AccountEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        User.history.order_by("-history_id").values_list("history_id", flat=True).first() or 0,
    )
    results = []
    for set_based_jobs in (False, True):
        settings.PRAHARI_SET_BASED_JOBS = set_based_jobs
        assert set_based() is set_based_jobs
        with transaction.atomic():
            summary = run()
            results.append({"summary": summary, **_snapshot(*marks)})
            transaction.set_rollback(True)
    return results[0], results[1]


@pytest.mark.postgres
def test_dormancy_writes_the_same_rows_on_both_paths(postgres, world, settings):
    _accounts(world)
    with freeze_time(NOW):
        orm, sql = _both_paths(settings, lambda: job_run("dormancy", now=NOW))
    assert orm["summary"] == sql["summary"] == {"job": "dormancy", "dry_run": False, "warned": 2, "suspended": 9}
    for part in ("accounts", "history", "events", "notes", "sessions"):
        assert orm[part] == sql[part], part
    keys = [n[6] for n in sql["notes"]]
    assert any(k.startswith("sha256:") for k in keys) and "  asha@example.org\t" not in {n[2] for n in sql["notes"]}
    assert {n[3] for n in sql["notes"]} == {"account_suspended", "dormancy_warning", "governance_digest"}
    assert len(sql["history"]) == 9 and all(dict(h)["history_type"] == "~" for h in sql["history"])


@pytest.mark.postgres
def test_overdue_reverification_writes_the_same_rows_on_both_paths(postgres, world, settings):
    _session(world.worker, "a")
    User.objects.filter(pk=world.worker.pk).update(review_due_at=NOW - timedelta(minutes=1))
    User.objects.filter(pk=world.far_supervisor.pk).update(review_due_at=NOW.replace(microsecond=0))
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=NOW + timedelta(days=1))
    with freeze_time(NOW):
        orm, sql = _both_paths(settings, lambda: job_run("reverification", now=NOW))
    assert orm["summary"] == sql["summary"] and sql["summary"]["suspended"] == 2
    for part in ("accounts", "history", "events", "notes", "sessions"):
        assert orm[part] == sql[part], part
    assert {dict(e[5])["due"] for e in sql["events"] if e[0] == AccountEventType.USER_SUSPENDED} == {
        (NOW - timedelta(minutes=1)).isoformat(),
        NOW.replace(microsecond=0).isoformat(),
    }


@pytest.mark.postgres
def test_a_selection_across_tables_suspends_the_same_on_both_paths(postgres, world, settings):
    _accounts(world)
    in_lucknow = User.objects.filter(facility__district=world.district, last_login__lte=NOW - timedelta(days=40))

    def suspend():
        return users_suspend_matching(
            in_lucknow, acting_user=world.system, reason="a district audit", cause=SuspensionCause.MANUAL, now=NOW
        )

    assert own_table_where(in_lucknow) is None  # the path that locks first (SELECT … FOR UPDATE), then updates
    with freeze_time(NOW):
        orm, sql = _both_paths(settings, suspend)
    assert orm["summary"] == sql["summary"] and len(sql["summary"]) == 7
    for part in ("accounts", "history", "events", "notes", "sessions"):
        assert orm[part] == sql[part], part


def test_suspending_an_empty_selection_does_nothing(world):
    none = users_suspend_matching(
        User.objects.none(), acting_user=world.system, reason="nobody", cause=SuspensionCause.MANUAL
    )
    assert none == [] and not AccountEvent.objects.exists()


@pytest.mark.postgres
def test_the_set_based_suspension_queues_its_messages_after_the_commit(
    postgres, world, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(notifications, "_enqueue", queued.append)
    User.objects.filter(is_system=False).update(last_login=timezone.now())
    User.objects.filter(pk=world.worker.pk).update(last_login=timezone.now() - timedelta(days=50))
    User.objects.filter(pk=world.colleague.pk).update(last_login=timezone.now() - timedelta(days=35))
    with django_capture_on_commit_callbacks(execute=True):
        job_run("dormancy")
        assert not queued  # nothing before the commit
    assert sorted(queued) == sorted(Notification.objects.values_list("pk", flat=True))
    assert len(queued) == 2 + 2 + 2 * 2  # suspended and warned (SMS + e-mail), two supervisors' digests


@pytest.mark.postgres
def test_the_set_based_suspension_costs_the_same_statements_for_2_or_40_accounts(postgres, world):
    counts = []
    for size in (2, 40):
        for _ in range(size):
            SupervisorFactory(district=world.district, review_due_at=timezone.now() - timedelta(days=1))
        with CaptureQueriesContext(connection) as queries:
            assert len(reviews_overdue_suspend_ids()) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
