"""Access reviews: due dates, the reviewer's usage summary, attest and revoke, reminders, overdue suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from accounts.exceptions import DomainError, IllegalTransition, NotPermitted
from accounts.models import (
    AccountEvent,
    AccountEventType,
    Alert,
    Notification,
    RegisteredDevice,
    Status,
    SuspensionCause,
    User,
    UserSession,
)
from accounts.services.lifecycle import user_suspend
from accounts.services.reviews import review_due_from
from governance.models import AccessReview
from governance.reviews import (
    review_attest,
    review_period_start,
    review_reminders_send,
    review_revoke,
    review_usage,
    reviews_overdue_suspend,
)
from records.models import AccessEvent
from tests.conftest import sign_in
from tests.factories import WorkerFactory
from tests.records.conftest import make_record

IST = ZoneInfo("Asia/Kolkata")


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def last_history(user):
    """The newest history row by insertion (frozen clocks may date rows before the factory's own)."""
    return user.history.order_by("-history_id").first()


def events_of(user, type_):
    return AccountEvent.objects.filter(subject=user, type=type_)


# --- Due dates --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_workers_are_due_every_180_days_supervisors_and_state_admins_every_90(world):
    start = ist(2026, 1, 1, 9, 0)
    assert review_due_from(world.worker, start) == start + timedelta(days=180)
    assert review_due_from(world.supervisor, start) == start + timedelta(days=90)
    assert review_due_from(world.state_admin, start) == start + timedelta(days=90)


@pytest.mark.django_db
def test_the_first_period_starts_at_approval_else_at_joining(world):
    assert review_period_start(world.worker) == world.worker.date_joined
    with freeze_time(ist(2026, 2, 3, 11, 0)):
        AccountEvent.objects.create(type=AccountEventType.USER_APPROVED, actor=world.supervisor, subject=world.worker)
    assert review_period_start(world.worker) == ist(2026, 2, 3, 11, 0)


# --- The usage summary ------------------------------------------------------------------------------------


class Log:
    """Access events written straight into the table at chosen times (the chain itself is not under test)."""

    def __init__(self, actor):
        self.actor, self.seq = actor, count(1)

    def __call__(self, when, action="view", outcome="allowed", record=None):
        seq = next(self.seq)
        AccessEvent.objects.create(
            created_at=when,
            actor=self.actor,
            actor_seq=seq,
            action=action,
            outcome=outcome,
            beneficiary=record,
            prev_hash=f"{seq - 1:064d}",
            hash=f"{seq:064d}",
        )


def _account_event(user, type_, when):
    with freeze_time(when):
        AccountEvent.objects.create(type=type_, actor=user, subject=user)


@pytest.fixture
def usage_fixture(world):
    """A worker's period 1 Jan – 1 Mar 2026 (IST) with exact counts, and events just outside it."""
    worker = world.worker
    one = make_record("20000000000001", world.facility, mobile="+919876511001")
    two = make_record("20000000000002", world.facility, mobile="+919876511002")
    log = Log(worker)
    # Views allowed: 8, of 2 different records; off-hours (22:00–06:00 IST): 22:00, 23:30, 05:59 → 3.
    for when in (ist(2026, 1, 5, 10, 0), ist(2026, 1, 5, 10, 5), ist(2026, 1, 6, 21, 59), ist(2026, 1, 7, 6, 0)):
        log(when, record=one)
    for when in (ist(2026, 1, 8, 22, 0), ist(2026, 1, 8, 23, 30), ist(2026, 1, 9, 5, 59), ist(2026, 2, 1, 12, 0)):
        log(when, record=two)
    log(ist(2026, 1, 10, 11, 0), action="reveal", record=one)
    log(ist(2026, 1, 10, 11, 1), action="reveal", record=two)
    log(ist(2026, 1, 10, 11, 2), action="reveal", outcome="refused", record=two)  # not a reveal
    log(ist(2026, 1, 11, 11, 0), outcome="out_of_scope")  # not a view
    log(ist(2026, 1, 11, 11, 5), action="search")
    log(ist(2025, 12, 31, 23, 0), record=one)  # before the period
    log(ist(2026, 3, 1, 0, 0), record=one)  # the period's end is exclusive
    Log(world.colleague)(ist(2026, 1, 5, 23, 0), record=one)  # someone else
    for when in (ist(2026, 1, 5, 9, 0), ist(2026, 1, 20, 9, 0), ist(2026, 2, 10, 9, 30)):
        _account_event(worker, AccountEventType.LOGIN_SUCCEEDED, when)
    _account_event(worker, AccountEventType.LOGIN_SUCCEEDED, ist(2025, 12, 30, 9, 0))
    _account_event(worker, AccountEventType.LOGIN_FAILED, ist(2026, 1, 5, 8, 58))
    _account_event(worker, AccountEventType.LOGIN_FAILED, ist(2026, 1, 5, 8, 59))
    _account_event(worker, AccountEventType.OTP_FAILED, ist(2026, 1, 20, 8, 59))
    _account_event(world.colleague, AccountEventType.OTP_FAILED, ist(2026, 1, 20, 8, 59))
    for when in (ist(2026, 1, 9, 6, 0), ist(2025, 12, 1, 6, 0)):
        with freeze_time(when):
            Alert.objects.create(rule="off_hours", severity=Alert.Severity.MEDIUM, subject=worker)
    for status in ("approved", "approved", "pending", "revoked"):
        n = next(log.seq)
        RegisteredDevice.objects.create(user=worker, token_hash=f"{status}{n}", code=f"CODE{n}", status=status)
    return ist(2026, 1, 1, 0, 0), ist(2026, 3, 1, 0, 0)


@pytest.mark.django_db
def test_usage_summary_counts_exactly_what_happened_in_the_period(world, usage_fixture):
    start, end = usage_fixture
    usage = review_usage(user=world.worker, start=start, end=end)
    assert usage == {
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "last_login": ist(2026, 2, 10, 9, 30).astimezone(UTC).isoformat(),
        "logins": 3,
        "failed_logins": 3,
        "record_views": 8,
        "records_viewed": 2,
        "off_hours_views": 3,
        "off_hours_share": 0.375,
        "reveals": 2,
        "out_of_scope": 1,
        "alerts": 1,
        "approved_devices": 2,
    }


@pytest.mark.django_db
def test_usage_summary_costs_four_queries_and_is_json(world, usage_fixture):
    import json

    start, end = usage_fixture
    with CaptureQueriesContext(connection) as queries:
        usage = review_usage(user=world.worker, start=start, end=end)
    assert len(queries) == 4
    assert json.loads(json.dumps(usage)) == usage


@pytest.mark.django_db
def test_usage_summary_of_an_idle_account_is_zeros(world):
    usage = review_usage(user=world.colleague, start=ist(2026, 1, 1), end=ist(2026, 2, 1))
    assert (usage["last_login"], usage["logins"], usage["record_views"], usage["off_hours_share"]) == (None, 0, 0, 0.0)


# --- Attest -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_attest_starts_the_next_period_and_asks_the_owner_to_reconfirm(world):
    User.objects.filter(pk=world.worker.pk).update(review_due_at=ist(2026, 1, 10), review_reminder_days=7)
    now = ist(2026, 1, 5, 12, 0)
    with freeze_time(now):
        review = review_attest(user=world.worker, acting_user=world.supervisor, reason="still at PHC Chinhat")
    world.worker.refresh_from_db()
    assert world.worker.review_due_at == now + timedelta(days=180)
    assert world.worker.reconfirm_pending is True
    assert world.worker.review_reminder_days is None
    assert (review.user, review.reviewer, review.decision) == (world.worker, world.supervisor, "attest")
    assert (review.period_start, review.period_end) == (world.worker.date_joined, now)
    assert review.usage["logins"] == 0 and datetime.fromisoformat(review.usage["period_end"]) == now
    assert AccessReview.objects.filter(user=world.worker).count() == 1
    history = last_history(world.worker)
    assert (history.history_user, history.history_change_reason) == (world.supervisor, "still at PHC Chinhat")
    assert history.reconfirm_pending is True
    event = events_of(world.worker, AccountEventType.REVIEW_ATTESTED).get()
    assert (event.actor, event.reason, event.data["review"]) == (world.supervisor, "still at PHC Chinhat", review.pk)


@pytest.mark.django_db
def test_a_supervisors_attestation_lasts_90_days_and_the_next_period_follows_the_last(world):
    with freeze_time(ist(2026, 1, 5, 12, 0)):
        first = review_attest(user=world.supervisor, acting_user=world.state_admin, reason="still the DIO")
    with freeze_time(ist(2026, 4, 1, 12, 0)):
        second = review_attest(user=world.supervisor, acting_user=world.state_admin, reason="still the DIO")
    world.supervisor.refresh_from_db()
    assert world.supervisor.review_due_at == ist(2026, 4, 1, 12, 0) + timedelta(days=90)
    assert second.period_start == first.period_end == ist(2026, 1, 5, 12, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("supervisor", "supervisor"),  # oneself
        ("far_supervisor", "worker"),  # another district
        ("other_state_admin", "supervisor"),  # another state
        ("colleague", "worker"),  # a worker has no right to attest
        ("peer_supervisor", "supervisor"),  # a supervisor is governed by the level above
    ],
)
def test_attest_and_revoke_are_refused_outside_the_reviewers_rights(world, actor, target):
    actor, target = getattr(world, actor), getattr(world, target)
    for service in (review_attest, review_revoke):
        with pytest.raises(NotPermitted):
            service(user=target, acting_user=actor, reason="looks fine")
    target.refresh_from_db()
    assert (target.status, target.reconfirm_pending) == (Status.ACTIVE, False)
    assert not AccessReview.objects.exists()
    assert not AccountEvent.objects.filter(type__in=[AccountEventType.REVIEW_ATTESTED, AccountEventType.REVIEW_REVOKED])


@pytest.mark.django_db
def test_only_an_active_account_is_attested_and_a_reason_is_required(world):
    with pytest.raises(DomainError, match="reason"):
        review_attest(user=world.worker, acting_user=world.supervisor, reason=" ")
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="investigation")
    with pytest.raises(IllegalTransition, match="suspended"):
        review_attest(user=world.worker, acting_user=world.supervisor, reason="still here")
    assert not AccessReview.objects.exists()


# --- Revoke -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_suspends_ends_sessions_and_notifies(world, client):
    sign_in(client, world.worker)
    assert client.get("/").status_code == 200
    review = review_revoke(user=world.worker, acting_user=world.supervisor, reason="left in March")
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.REVIEW_REVOKED)
    assert (review.decision, review.reviewer, review.reason) == ("revoke", world.supervisor, "left in March")
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert client.get("/").status_code == 302
    assert last_history(world.worker).history_user == world.supervisor
    suspended = events_of(world.worker, AccountEventType.USER_SUSPENDED).get()
    assert suspended.data["cause"] == "review_revoked" and suspended.data["sessions_ended"] == 1
    revoked = events_of(world.worker, AccountEventType.REVIEW_REVOKED).get()
    assert (revoked.actor, revoked.data) == (world.supervisor, {"review": review.pk, "suspended": True})
    assert Notification.objects.filter(user=world.worker, kind="account_suspended").exists()


@pytest.mark.django_db
def test_revoking_a_suspended_account_keeps_its_cause(world):
    """A canary suspension must keep needing a state administrator to reinstate: revoking cannot relabel it."""
    user_suspend(user=world.worker, acting_user=world.system, reason="canary opened", cause=SuspensionCause.CANARY)
    review_revoke(user=world.worker, acting_user=world.supervisor, reason="misuse confirmed")
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.CANARY)
    assert events_of(world.worker, AccountEventType.REVIEW_REVOKED).get().data["suspended"] is False
    assert AccessReview.objects.get(user=world.worker).decision == "revoke"


# --- Reminders --------------------------------------------------------------------------------------------


def _kinds(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", "channel"))


@pytest.mark.django_db
def test_reminders_go_out_at_14_7_and_1_days_once_each(world):
    due = ist(2026, 6, 30, 10, 0)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=due)
    with freeze_time(due - timedelta(days=15)):
        assert len(review_reminders_send()) == 0
    with freeze_time(due - timedelta(days=14)):
        assert len(review_reminders_send()) == 1
        assert len(review_reminders_send()) == 0  # the same day again: nothing
    assert _kinds("review_due") == [("asha", "email"), ("asha", "sms")]
    assert _kinds("review_due_governor") == []  # governors hear through the job's digest
    world.worker.refresh_from_db()
    assert world.worker.review_reminder_days == 14
    with freeze_time(due - timedelta(days=10)):
        assert len(review_reminders_send()) == 0
    with freeze_time(due - timedelta(days=7)):
        assert len(review_reminders_send()) == 1
    with freeze_time(due - timedelta(hours=23)):
        assert len(review_reminders_send()) == 1
        assert len(review_reminders_send()) == 0
    reminded = events_of(world.worker, AccountEventType.REVIEW_REMINDED).order_by("pk")
    assert [e.data["days"] for e in reminded] == [14, 7, 1]
    assert {e.actor for e in reminded} == {world.system}
    assert Notification.objects.filter(kind="review_due").count() == 3 * 2
    assert last_history(world.worker).history_user == world.system
    text = Notification.objects.filter(kind="review_due").first().context
    assert text == {"date": "2026-06-30"}


@pytest.mark.django_db
def test_a_missed_threshold_sends_only_the_current_reminder(world):
    now = ist(2026, 6, 1, 10, 0)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now + timedelta(days=5))
    assert len(review_reminders_send(now=now)) == 1
    assert list(events_of(world.worker, AccountEventType.REVIEW_REMINDED).values_list("data__days", flat=True)) == [7]


@pytest.mark.django_db
def test_attestation_rearms_the_reminders_for_the_next_due_date(world):
    now = ist(2026, 6, 1, 10, 0)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now + timedelta(days=1))
    assert len(review_reminders_send(now=now)) == 1
    with freeze_time(now):
        review_attest(user=world.worker, acting_user=world.supervisor, reason="still here")
    later = now + timedelta(days=180 - 14)
    assert len(review_reminders_send(now=later)) == 1
    assert Notification.objects.filter(kind="review_due").count() == 2 * 2


@pytest.mark.django_db
def test_reminders_skip_accounts_that_are_not_active(world):
    now = ist(2026, 6, 1, 10, 0)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now + timedelta(days=3))
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="investigation")
    assert len(review_reminders_send(now=now)) == 0


# --- Overdue suspension -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_overdue_accounts_are_suspended_by_the_system_actor(world, client):
    now = ist(2026, 6, 1, 10, 0)
    sign_in(client, world.worker)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now - timedelta(minutes=1))
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=now + timedelta(days=1))
    with freeze_time(now):
        assert reviews_overdue_suspend() == 1
        assert reviews_overdue_suspend() == 0
    world.worker.refresh_from_db()
    world.colleague.refresh_from_db()
    assert world.colleague.status == Status.ACTIVE
    assert (world.worker.status, world.worker.suspension_cause) == (
        Status.SUSPENDED,
        SuspensionCause.REVERIFICATION_OVERDUE,
    )
    assert world.worker.status_changed_at == now
    history = last_history(world.worker)
    assert history.history_user == world.system and "overdue" in history.history_change_reason
    assert history.status == Status.SUSPENDED
    event = events_of(world.worker, AccountEventType.USER_SUSPENDED).get()
    assert event.actor == world.system
    assert event.data["cause"] == "reverification_overdue" and event.data["sessions_ended"] == 1
    assert datetime.fromisoformat(event.data["due"]) == now - timedelta(minutes=1)
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert Notification.objects.filter(user=world.worker, kind="account_suspended").count() == 2  # SMS and e-mail


def _overdue_workers(world, n, due):
    for _ in range(n):
        worker = WorkerFactory(facility=world.facility)
        User.objects.filter(pk=worker.pk).update(review_due_at=due)


@pytest.mark.django_db
def test_overdue_suspension_costs_the_same_queries_for_2_or_9_accounts(world):
    now = ist(2026, 6, 1, 10, 0)
    counts = []
    for size in (2, 9):
        _overdue_workers(world, size, now - timedelta(days=1))
        with CaptureQueriesContext(connection) as queries:
            assert reviews_overdue_suspend(now=now) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert User.objects.filter(suspension_cause=SuspensionCause.REVERIFICATION_OVERDUE).count() == 11


@pytest.mark.django_db
def test_reminders_cost_the_same_queries_for_2_or_9_accounts_of_one_facility(world):
    now = ist(2026, 6, 1, 10, 0)
    counts = []
    for size in (2, 9):
        _overdue_workers(world, size, now + timedelta(days=3))
        with CaptureQueriesContext(connection) as queries:
            assert len(review_reminders_send(now=now)) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_notify_many_writes_each_message_once_and_queues_it_after_commit(world, django_capture_on_commit_callbacks):
    from accounts.services.notifications import notify_many

    def messages(*keys):
        users = [world.worker, world.colleague]
        return [
            {"user": u, "kind": "review_due", "idempotency_key": k, "context": {"date": "01-06-2026"}}
            for u, k in zip(users, keys, strict=False)
        ]

    with django_capture_on_commit_callbacks() as callbacks:
        assert len(notify_many(messages("k:1", "k:2"))) == 4  # SMS and e-mail each
    assert notify_many(messages("k:1", "k:2")) == []  # seen before: nothing written, nothing queued
    rows = Notification.objects.filter(kind="review_due")
    assert rows.count() == 4
    assert {(r.user, r.channel, r.language) for r in rows} >= {(world.worker, "sms", world.worker.preferred_language)}
    assert len(callbacks) == 1
    with pytest.raises(KeyError):
        notify_many([{"user": world.worker, "kind": "review_due", "idempotency_key": "k:3", "context": {}}])


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "end", "off_hours"), [(22, 6, 3), (23, 6, 2), (21, 23, 2), (5, 6, 1)])
def test_off_hours_are_the_night_hours_of_the_settings(world, usage_fixture, settings, start, end, off_hours):
    """The reviewer's off-hours share counts the hours the night_views rule counts, whatever they are set to.

    The views: 10:00, 10:05, 21:59, 06:00, 22:00, 23:30, 05:59, 12:00 (local)."""
    settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, settings.PRAHARI_ANOMALY_NIGHT_END_HOUR = start, end
    period_start, period_end = usage_fixture
    assert review_usage(user=world.worker, start=period_start, end=period_end)["off_hours_views"] == off_hours
