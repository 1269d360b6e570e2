"""The jobs' set-based suspensions write, field by field, what a suspension records.

Each test builds accounts covering the cases (sessions, addresses to strip, a key long enough to be
hashed, a supervisor whose digest goes to the state, microseconds or none), runs the job, and checks the
accounts, history rows, events, outbox rows and sessions left against what a suspension of each account
records: the account's new status, a history row of every tracked field as the account now is, one
USER_SUSPENDED event with the sessions it ended, and the outbox rows `notify` writes for each message.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import (
    AccountEvent,
    AccountEventType,
    Notification,
    Status,
    SuspensionCause,
    User,
    UserSession,
)
from accounts.services import notifications
from accounts.services.lifecycle import users_suspend_matching
from accounts.services.notifications import _outbox_rows
from accounts.services.setsql import PY_WHITESPACE, isoformat_sql, own_table_where
from governance.jobs import job_run
from governance.reviews import OVERDUE_REASON, reviews_overdue_suspend_ids
from tests.factories import SupervisorFactory, WorkerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
LONG_EMAIL = "a" * 170 + "@example.org"  # its outbox key passes 200 characters: stored as a sha256 digest
DORMANCY_REASON = "governance job dormancy: no full login for 45 days"


def test_py_whitespace_is_what_str_strip_removes():
    assert set(PY_WHITESPACE) == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


def test_isoformat_sql_is_python_isoformat():
    moments = [NOW, NOW.replace(microsecond=0), NOW.replace(microsecond=5), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)]
    with connection.cursor() as cursor:
        for moment in moments:
            cursor.execute(f"SELECT {isoformat_sql('m')} FROM (SELECT %s::timestamptz AS m) AS t", [moment])
            assert cursor.fetchone()[0] == moment.isoformat()


def _session(user: User, key: str) -> None:
    UserSession.objects.create(session_key=key * 40, session_data="", expire_date=NOW + timedelta(hours=1), user=user)


def _accounts(world) -> dict[str, User]:
    """Dormant and idle accounts of every kind the job treats differently; the extra accounts by name."""
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
    extra = {}
    for n in range(4):  # the digest names three and cuts the rest
        name = f"zz.worker{n}"
        extra[name] = WorkerFactory(username=name, facility=world.facility, last_login=NOW - timedelta(days=45))
    extra["mobile.only"] = WorkerFactory(
        username="mobile.only", facility=world.facility, email="", last_login=NOW - timedelta(days=55)
    )
    return extra


def _marks() -> tuple[int, int, int]:
    return (
        AccountEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        User.history.order_by("-history_id").values_list("history_id", flat=True).first() or 0,
    )


def _tracked(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in User.history.model.tracked_fields}


def _notes(since: int) -> list[tuple]:
    return sorted(
        (n.user_id, n.channel, n.to, n.kind, n.language, sorted(n.context.items()), n.idempotency_key, n.state)
        for n in Notification.objects.filter(pk__gt=since)
    )


def _expected_notes(messages: list[dict]) -> list[tuple]:
    """The outbox rows `notify` writes for these messages (its keyword arguments), as `_notes` lists them."""
    return sorted(
        (n.user.pk, n.channel, n.to, n.kind, n.language, sorted(n.context.items()), n.idempotency_key, "pending")
        for message in messages
        for n in _outbox_rows(**message)
    )


def _suspended_notes(users: list[User], now: datetime) -> list[dict]:
    key = now.isoformat()
    return [
        {"user": u, "kind": "account_suspended", "idempotency_key": f"account_suspended:{u.pk}:{key}"} for u in users
    ]


def _digest(governor: User, job: str, action: str, count: int, names: str, now: datetime) -> dict:
    return {
        "user": governor,
        "kind": "governance_digest",
        "idempotency_key": f"digest:{job}:{action}:{governor.pk}:{now.isoformat()}",
        "context": {"action": action, "count": count, "names": names},
    }


def _assert_suspended(
    users: list[User], *, reason: str, cause: str, sessions: dict[int, int], data: dict[int, dict], since: tuple
) -> list[int]:
    """Check that each of `users` (as they were before) is suspended as a suspension records it; return the
    accounts of the other history rows and events written since (none, unless the job also did something else)."""
    since_event, _since_note, since_history = since
    system = User.objects.get(is_system=True)
    for before in users:
        after = User.objects.get(pk=before.pk)
        assert (after.status, after.suspension_cause, after.status_reason, after.status_changed_at) == (
            Status.SUSPENDED,
            cause,
            reason,
            NOW,
        ), before.username
        assert _tracked(after) == {
            **_tracked(before),
            "status": Status.SUSPENDED,
            "suspension_cause": cause,
            "status_reason": reason,
            "status_changed_at": NOW,
        }, before.username
    history = User.history.filter(history_id__gt=since_history, id__in=[u.pk for u in users]).order_by("id")
    assert [h.id for h in history] == sorted(u.pk for u in users)  # one row each
    for row in history:
        assert (row.history_type, row.history_date, row.history_user_id, row.history_change_reason) == (
            "~",
            NOW,
            system.pk,
            reason,
        )
        assert _tracked(row) == _tracked(User.objects.get(pk=row.id))
    events = sorted(
        (e.type, e.actor_id, e.subject_id, e.reason, e.ip_address, e.data)
        for e in AccountEvent.objects.filter(pk__gt=since_event, type=AccountEventType.USER_SUSPENDED)
    )
    assert events == sorted(
        (
            AccountEventType.USER_SUSPENDED,
            system.pk,
            u.pk,
            reason,
            None,
            {
                "from": "active",
                "to": "suspended",
                "cause": cause,
                "sessions_ended": sessions.get(u.pk, 0),
                **data[u.pk],
            },
        )
        for u in users
    )
    others = User.history.filter(history_id__gt=since_history).exclude(id__in=[u.pk for u in users])
    other_events = AccountEvent.objects.filter(pk__gt=since_event).exclude(type=AccountEventType.USER_SUSPENDED)
    return sorted({*others.values_list("id", flat=True), *other_events.values_list("subject_id", flat=True)})


def test_dormancy_suspends_and_warns_writing_every_row(world):
    extra = _accounts(world)
    since = _marks()
    suspended = [
        User.objects.get(pk=pk)
        for pk in (world.worker.pk, world.district_worker.pk, world.far_supervisor.pk, world.far_worker.pk)
    ] + list(extra.values())
    warned = [User.objects.get(pk=world.colleague.pk), User.objects.get(pk=world.state_admin.pk)]
    with freeze_time(NOW):
        summary = job_run("dormancy", now=NOW)
    assert summary == {"job": "dormancy", "dry_run": False, "warned": 2, "suspended": 9}
    assert (
        _assert_suspended(
            suspended,
            reason=DORMANCY_REASON,
            cause=SuspensionCause.DORMANT,
            sessions={world.worker.pk: 2},
            data={u.pk: {} for u in suspended},
            since=since,
        )
        == []
    )
    assert {u.pk for u in User.objects.filter(status=Status.ACTIVE, is_system=False)}.isdisjoint(
        u.pk for u in suspended
    )
    lucknow = "asha, meena, mobile.only …"  # seven accounts, the first three by name
    expected = [
        *_suspended_notes(suspended, NOW),
        *(
            {
                "user": u,
                "kind": "dormancy_warning",
                "idempotency_key": f"dormancy_warning:{u.pk}:{u.last_login.isoformat()}",
                "context": {"days": 45},
            }
            for u in warned
        ),
        _digest(world.supervisor, "dormancy", "suspended", 7, lucknow, NOW),
        _digest(world.peer_supervisor, "dormancy", "suspended", 7, lucknow, NOW),
        _digest(world.state_admin, "dormancy", "suspended", 1, "dio.varanasi", NOW),  # Varanasi's own is suspended
    ]
    notes = _notes(since[1])
    assert notes == _expected_notes(expected)
    assert any(n[6].startswith("sha256:") for n in notes)
    assert ("asha@example.org" in {n[2] for n in notes}) and "  asha@example.org\t" not in {n[2] for n in notes}
    assert sorted(UserSession.objects.values_list("session_key", "user_id")) == [("c" * 40, world.colleague.pk)]


def test_overdue_reverification_suspends_writing_every_row(world):
    _session(world.worker, "a")
    User.objects.filter(pk=world.worker.pk).update(review_due_at=NOW - timedelta(minutes=1))
    User.objects.filter(pk=world.far_supervisor.pk).update(review_due_at=NOW.replace(microsecond=0))
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=NOW + timedelta(days=1))
    since = _marks()
    suspended = [User.objects.get(pk=world.worker.pk), User.objects.get(pk=world.far_supervisor.pk)]
    with freeze_time(NOW):
        summary = job_run("reverification", now=NOW)
    assert summary == {"job": "reverification", "dry_run": False, "reminded": 1, "suspended": 2}
    reminded = _assert_suspended(
        suspended,
        reason=OVERDUE_REASON,
        cause=SuspensionCause.REVERIFICATION_OVERDUE,
        sessions={world.worker.pk: 1},
        data={u.pk: {"due": u.review_due_at.isoformat()} for u in suspended},
        since=since,
    )
    assert reminded == [world.colleague.pk]  # its reminder: the threshold with history, REVIEW_REMINDED
    assert {e.data["due"] for e in AccountEvent.objects.filter(type=AccountEventType.USER_SUSPENDED)} == {
        (NOW - timedelta(minutes=1)).isoformat(),
        NOW.replace(microsecond=0).isoformat(),
    }
    colleague = User.objects.get(pk=world.colleague.pk)
    due = colleague.review_due_at
    assert _notes(since[1]) == _expected_notes(
        [
            {
                "user": colleague,
                "kind": "review_due",
                "idempotency_key": f"review_due:{colleague.pk}:{due:%Y%m%d%H%M%S}:1",
                "context": {"date": "2026-06-02"},  # India's date of the due time, ISO
            },
            *_suspended_notes(suspended, NOW),
            *(
                _digest(s, "reverification", "reminded", 1, "ravi", NOW)
                for s in (world.supervisor, world.peer_supervisor)
            ),
            *(
                _digest(s, "reverification", "suspended", 1, "asha", NOW)
                for s in (world.supervisor, world.peer_supervisor)
            ),
            _digest(world.state_admin, "reverification", "suspended", 1, "dio.varanasi", NOW),
        ]
    )
    assert not UserSession.objects.exists()


def test_a_selection_across_tables_suspends_writing_every_row(world):
    extra = _accounts(world)
    in_lucknow = User.objects.filter(facility__district=world.district, last_login__lte=NOW - timedelta(days=40))
    assert own_table_where(in_lucknow) is None  # the path that locks first (SELECT … FOR UPDATE), then updates
    suspended = [User.objects.get(pk=world.worker.pk), User.objects.get(pk=world.district_worker.pk)]
    suspended += list(extra.values())
    since = _marks()
    with freeze_time(NOW):
        ids = users_suspend_matching(
            in_lucknow, acting_user=world.system, reason="a district audit", cause=SuspensionCause.MANUAL, now=NOW
        )
    assert ids == sorted(u.pk for u in suspended) and len(ids) == 7
    assert (
        _assert_suspended(
            suspended,
            reason="a district audit",
            cause=SuspensionCause.MANUAL,
            sessions={world.worker.pk: 2},
            data={u.pk: {} for u in suspended},
            since=since,
        )
        == []
    )
    assert _notes(since[1]) == _expected_notes(_suspended_notes(suspended, NOW))  # no digest: the caller's to send
    assert sorted(UserSession.objects.values_list("session_key", "user_id")) == [("c" * 40, world.colleague.pk)]


def test_suspending_an_empty_selection_does_nothing(world):
    none = users_suspend_matching(
        User.objects.none(), acting_user=world.system, reason="nobody", cause=SuspensionCause.MANUAL
    )
    assert none == [] and not AccountEvent.objects.exists()


def test_the_set_based_suspension_queues_its_messages_after_the_commit(
    world, monkeypatch, django_capture_on_commit_callbacks
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


def test_the_set_based_suspension_costs_the_same_statements_for_2_or_40_accounts(world):
    counts = []
    for size in (2, 40):
        for _ in range(size):
            SupervisorFactory(district=world.district, review_due_at=timezone.now() - timedelta(days=1))
        with CaptureQueriesContext(connection) as queries:
            assert len(reviews_overdue_suspend_ids()) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
