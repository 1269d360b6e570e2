"""Lifecycle services: every legal and illegal transition, history, events and sessions ended."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, models, transaction

from accounts.exceptions import DomainError, IllegalTransition, NotPermitted
from accounts.models import AccountEvent, AccountEventType, Notification, Status, SuspensionCause, User, UserSession
from accounts.services.lifecycle import TRANSITIONS, user_deactivate, user_reinstate, user_suspend
from tests.factories import WorkerFactory

SERVICES = {
    "suspend": (user_suspend, AccountEventType.USER_SUSPENDED),
    "reinstate": (user_reinstate, AccountEventType.USER_REINSTATED),
    "deactivate": (user_deactivate, AccountEventType.USER_DEACTIVATED),
}


def _worker_in(world, status: Status) -> User:
    cause = SuspensionCause.MANUAL if status == Status.SUSPENDED else ""
    return WorkerFactory(facility=world.facility, status=status, suspension_cause=cause)


@pytest.mark.django_db
@pytest.mark.parametrize("status", Status.values)
@pytest.mark.parametrize("transition", SERVICES)
def test_each_transition_from_each_status_is_legal_or_refused(world, status, transition):
    service, event_type = SERVICES[transition]
    target = _worker_in(world, status)
    sources, expected = TRANSITIONS[transition]
    if status in sources:
        service(user=target, acting_user=world.supervisor, reason="checked by phone")
        target.refresh_from_db()
        assert target.status == expected
        assert AccountEvent.objects.filter(subject=target, type=event_type).count() == 1
    else:
        with pytest.raises(IllegalTransition) as refused:
            service(user=target, acting_user=world.supervisor, reason="checked by phone")
        assert "cannot be" in str(refused.value)
        target.refresh_from_db()
        assert target.status == status
        assert not AccountEvent.objects.filter(subject=target, type=event_type).exists()


def test_the_state_machine_matches_the_architecture():
    """ARCHITECTURE.md §3: written out once more, so a changed table is a visible decision."""
    assert {name: (set(src), dst) for name, (src, dst) in TRANSITIONS.items()} == {
        "enrol": ({"invited"}, "pending_approval"),
        "approve": ({"pending_approval"}, "active"),
        "reject": ({"pending_approval"}, "rejected"),
        "expire": ({"invited"}, "expired"),
        "suspend": ({"active"}, "suspended"),
        "reinstate": ({"suspended"}, "active"),
        "deactivate": ({"invited", "pending_approval", "active", "suspended"}, "deactivated"),
    }


@pytest.mark.django_db
def test_suspension_writes_history_with_actor_and_reason_and_an_event(world):
    user_suspend(
        user=world.worker,
        acting_user=world.supervisor,
        reason="left the PHC",
        cause=SuspensionCause.MANUAL,
        ip="10.1.2.3",
    )
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.MANUAL)
    assert world.worker.status_reason == "left the PHC"
    latest = world.worker.history.first()
    assert latest.history_user == world.supervisor
    assert latest.history_change_reason == "left the PHC"
    assert latest.status == Status.SUSPENDED
    event = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.USER_SUSPENDED)
    assert (event.actor, event.reason, event.ip_address) == (world.supervisor, "left the PHC", "10.1.2.3")
    assert event.data["from"] == "active" and event.data["to"] == "suspended"
    assert event.data["cause"] == "manual"
    notice = Notification.objects.get(user=world.worker, kind="account_suspended", channel="sms")
    assert notice.to == world.worker.mobile


@pytest.mark.django_db
def test_history_never_holds_the_password_or_last_login(world):
    historical_fields = {f.name for f in world.worker.history.model._meta.get_fields()}
    assert "password" not in historical_fields
    assert "last_login" not in historical_fields


@pytest.mark.django_db
def test_a_login_stamp_or_new_password_adds_no_history_row(world):
    before = world.worker.history.count()
    world.worker.set_password("another long passphrase")
    world.worker.save(update_fields=["password"])
    world.worker.last_login = world.worker.date_joined
    world.worker.save(update_fields=["last_login"])
    assert world.worker.history.count() == before


@pytest.mark.django_db
def test_reinstatement_clears_the_cause_and_is_recorded(world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="on leave")
    user_reinstate(user=world.worker, acting_user=world.supervisor, reason="back from leave", ip="10.0.0.9")
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.ACTIVE, "")
    assert world.worker.history.first().history_change_reason == "back from leave"
    assert AccountEvent.objects.get(subject=world.worker, type=AccountEventType.USER_REINSTATED).actor == (
        world.supervisor
    )


@pytest.mark.django_db
def test_deactivation_is_terminal_and_refuses_login_flag(world):
    user_deactivate(user=world.worker, acting_user=world.supervisor, reason="transferred out of state")
    world.worker.refresh_from_db()
    assert world.worker.status == Status.DEACTIVATED
    assert world.worker.is_active is False
    for service in (user_suspend, user_reinstate, user_deactivate):
        with pytest.raises(IllegalTransition):
            service(user=world.worker, acting_user=world.state_admin, reason="try again")


@pytest.mark.django_db
def test_a_deactivated_username_is_never_reused_whatever_its_case(world):
    user_deactivate(user=world.worker, acting_user=world.supervisor, reason="retired")
    with transaction.atomic(), pytest.raises(IntegrityError):
        WorkerFactory(username=world.worker.username.upper(), facility=world.facility)
    with pytest.raises(models.ProtectedError):
        world.worker.delete()
    assert User.objects.filter(pk=world.worker.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "  ", "x"])
def test_a_reason_is_required(world, reason):
    with pytest.raises(DomainError, match="reason is required"):
        user_suspend(user=world.worker, acting_user=world.supervisor, reason=reason)
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE


@pytest.mark.django_db
def test_unknown_suspension_cause_is_refused(world):
    with pytest.raises(DomainError, match="Unknown suspension cause"):
        user_suspend(user=world.worker, acting_user=world.supervisor, reason="because", cause="holiday")


@pytest.mark.django_db
def test_a_refused_change_leaves_nothing_behind(world):
    history_before = world.far_worker.history.count()
    with pytest.raises(NotPermitted):
        user_suspend(user=world.far_worker, acting_user=world.supervisor, reason="not mine")
    world.far_worker.refresh_from_db()
    assert world.far_worker.status == Status.ACTIVE
    assert world.far_worker.history.count() == history_before
    assert not AccountEvent.objects.filter(subject=world.far_worker).exists()


@pytest.mark.django_db
def test_jobs_act_as_the_named_system_user(world):
    user_suspend(user=world.worker, acting_user=world.system, reason="dormancy: 45 days", cause=SuspensionCause.DORMANT)
    latest = world.worker.history.first()
    assert latest.history_user.username == "prahari-system"
    assert latest.history_change_reason == "dormancy: 45 days"


@pytest.mark.django_db
def test_account_events_are_append_only(world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="on leave")
    event = AccountEvent.objects.get(subject=world.worker)
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.django_db
@pytest.mark.parametrize("service", [user_suspend, user_deactivate])
def test_suspension_and_deactivation_end_every_session_of_the_user(world, client, service):
    other_client = type(client)()
    client.force_login(world.worker)
    other_client.force_login(world.worker)
    colleague_client = type(client)()
    colleague_client.force_login(world.colleague)
    assert UserSession.objects.filter(user=world.worker).count() == 2

    service(user=world.worker, acting_user=world.supervisor, reason="left the service")

    assert not UserSession.objects.filter(user=world.worker).exists()
    assert UserSession.objects.filter(user=world.colleague).count() == 1
    event = AccountEvent.objects.get(subject=world.worker, type__in=[110, 112])
    assert event.data["sessions_ended"] == 2
