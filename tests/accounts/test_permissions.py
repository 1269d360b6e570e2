"""The permission matrix: role × own/other jurisdiction × self, for each governing service and predicate."""

from __future__ import annotations

import pytest

from accounts import permissions
from accounts.exceptions import NotPermitted
from accounts.models import Status, SuspensionCause
from accounts.scoping import governable_facilities, governable_users
from accounts.services.lifecycle import user_deactivate, user_reinstate, user_suspend
from tests.factories import UserFactory

# (actor, target, may govern?) over the `world` fixture.
MATRIX = [
    ("worker", "worker", False),  # self
    ("worker", "colleague", False),  # workers govern nobody
    ("supervisor", "worker", True),  # own facility in own district
    ("supervisor", "district_worker", True),  # other facility, own district
    ("supervisor", "far_worker", False),  # other district
    ("supervisor", "supervisor", False),  # self
    ("supervisor", "peer_supervisor", False),  # a supervisor's account belongs to the level above
    ("supervisor", "state_admin", False),
    ("far_supervisor", "worker", False),  # other district
    ("state_admin", "worker", True),
    ("state_admin", "far_worker", True),
    ("state_admin", "supervisor", True),
    ("state_admin", "far_supervisor", True),
    ("state_admin", "state_admin", False),  # self
    ("state_admin", "other_state_admin", False),  # peers and other states: superusers only
    ("other_state_admin", "worker", False),  # other state
    ("other_state_admin", "supervisor", False),
    ("system", "worker", True),
    ("system", "supervisor", True),
    ("system", "state_admin", True),
]
SERVICES = [
    (user_suspend, Status.ACTIVE, Status.SUSPENDED),
    (user_deactivate, Status.ACTIVE, Status.DEACTIVATED),
    (user_reinstate, Status.SUSPENDED, Status.ACTIVE),
]


def _put_in(user, status):
    user.status = status
    user.suspension_cause = SuspensionCause.MANUAL if status == Status.SUSPENDED else ""
    user.save()


@pytest.mark.django_db
@pytest.mark.parametrize(("actor", "target", "allowed"), MATRIX)
@pytest.mark.parametrize(("service", "start", "end"), SERVICES, ids=lambda v: getattr(v, "__name__", v))
def test_service_permission_matrix(world, actor, target, allowed, service, start, end):
    actor_user, target_user = getattr(world, actor), getattr(world, target)
    _put_in(target_user, start)
    if allowed:
        service(user=target_user, acting_user=actor_user, reason="matrix check")
        target_user.refresh_from_db()
        assert target_user.status == end
    else:
        with pytest.raises(NotPermitted):
            service(user=target_user, acting_user=actor_user, reason="matrix check")
        target_user.refresh_from_db()
        assert target_user.status == start


@pytest.mark.django_db
@pytest.mark.parametrize(("actor", "target", "allowed"), MATRIX)
@pytest.mark.parametrize("predicate", ["can_suspend", "can_deactivate", "can_approve", "can_attest", "can_unlock"])
def test_predicate_matrix(world, actor, target, allowed, predicate):
    assert getattr(permissions, predicate)(getattr(world, actor), getattr(world, target)) is allowed


@pytest.mark.django_db
@pytest.mark.parametrize("cause", [SuspensionCause.ANOMALY, SuspensionCause.CANARY])
def test_only_a_state_admin_reinstates_after_an_anomaly_or_canary(world, cause):
    user_suspend(user=world.worker, acting_user=world.system, reason="rule hit", cause=cause)
    world.worker.refresh_from_db()
    assert not permissions.can_reinstate(world.supervisor, world.worker)
    with pytest.raises(NotPermitted):
        user_reinstate(user=world.worker, acting_user=world.supervisor, reason="looks fine to me")
    user_reinstate(user=world.worker, acting_user=world.state_admin, reason="investigated: false alarm")
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.DEACTIVATED, Status.PENDING_APPROVAL])
def test_an_actor_whose_own_account_is_not_active_governs_nobody(world, status):
    _put_in(world.supervisor, status)
    assert not governable_users(world.supervisor).exists()
    assert not governable_facilities(world.supervisor).exists()
    with pytest.raises(NotPermitted):
        user_suspend(user=world.worker, acting_user=world.supervisor, reason="still acting")


@pytest.mark.django_db
def test_superuser_governs_everyone_but_themselves(world):
    root = UserFactory(username="root", is_superuser=True, is_staff=True, facility=None, role="worker")
    assert permissions.can_suspend(root, world.state_admin)
    assert not permissions.can_suspend(root, root)
    assert not permissions.can_suspend(world.state_admin, root)


@pytest.mark.django_db
def test_nobody_governs_the_system_actor(world):
    root = UserFactory(username="root", is_superuser=True, is_staff=True, facility=None)
    assert world.system not in governable_users(root)
    assert not permissions.can_suspend(root, world.system)


@pytest.mark.django_db
def test_scoping_lists_exactly_the_jurisdiction(world):
    assert set(governable_users(world.supervisor)) == {world.worker, world.colleague, world.district_worker}
    assert set(governable_facilities(world.supervisor)) == {world.facility, world.other_facility}
    assert set(governable_users(world.state_admin)) == {
        world.worker,
        world.colleague,
        world.district_worker,
        world.far_worker,
        world.supervisor,
        world.peer_supervisor,
        world.far_supervisor,
    }
    assert set(governable_facilities(world.state_admin)) == {world.facility, world.other_facility, world.far_facility}
    assert not governable_users(world.other_state_admin).exists()
    assert not governable_users(world.worker).exists()
    assert not governable_facilities(world.worker).exists()


@pytest.mark.django_db
def test_scoping_is_one_query_whatever_the_size(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(governable_users(world.state_admin))


# --- A refusal says why and who can ---------------------------------------------------------------------


def _refused(service, **kwargs) -> str:
    with pytest.raises(NotPermitted) as refused:
        service(reason="checked in person", **kwargs)
    return str(refused.value)


def _named(user) -> str:
    return f"{user.get_full_name()} ({user.get_role_display()})"


def test_a_refusal_outside_the_jurisdiction_names_the_accounts_own_governors(world):
    message = _refused(user_suspend, user=world.worker, acting_user=world.far_supervisor)
    assert message.startswith("You may not suspend this account: it is outside your jurisdiction.")
    assert _named(world.supervisor) in message and _named(world.peer_supervisor) in message
    assert _named(world.far_supervisor) not in message  # never the one refused


def test_a_refusal_of_ones_own_account_says_so_and_names_the_level_above(world):
    message = _refused(user_suspend, user=world.supervisor, acting_user=world.supervisor)
    assert message.startswith("You may not suspend this account: it is your own account.")
    assert message.endswith(f"{_named(world.state_admin)} can.")


def test_a_flagged_reinstatement_says_only_a_state_administrator_lifts_it(world):
    user_suspend(user=world.worker, acting_user=world.state_admin, reason="canary opened", cause=SuspensionCause.CANARY)
    message = _refused(user_reinstate, user=world.worker, acting_user=world.supervisor)
    assert "it was suspended for an anomaly or a canary, which only a state administrator lifts." in message
    assert message.endswith(f"{_named(world.state_admin)} can.")  # the supervisors may not: not named


def test_a_workers_refusal_names_the_supervisors_who_can(world):
    message = _refused(user_suspend, user=world.colleague, acting_user=world.worker)
    assert message.startswith("You may not suspend this account: it is outside your jurisdiction.")
    assert "Ask your state administrator." not in message and _named(world.supervisor) in message


def test_a_refusal_with_nobody_able_says_whom_to_ask(world):
    type(world.state_admin).objects.filter(is_superuser=True).update(is_active=False)
    message = _refused(user_suspend, user=world.state_admin, acting_user=world.supervisor)
    assert message.endswith("Ask your state administrator.")


def test_a_refusal_speaks_hindi(world):
    from django.utils import translation

    with translation.override("hi"):
        message = _refused(user_deactivate, user=world.worker, acting_user=world.far_supervisor)
    assert message.startswith("आपको यह खाता बंद करने की अनुमति नहीं है: यह आपके अधिकार-क्षेत्र से बाहर है।")
    assert message.endswith("यह कर सकते हैं।")


def _invite(world, acting_user, facility):
    from accounts.services.onboarding import invitation_create

    fields = {
        "first_name": "Sunita",
        "last_name": "Devi",
        "mobile": "98765 43210",
        "base_url": "https://prahari.example",
    }
    return invitation_create(acting_user=acting_user, facility=facility, **fields)


def test_an_invitation_refused_outside_the_jurisdiction_names_who_may_invite_there(world):
    with pytest.raises(NotPermitted) as refused:
        _invite(world, world.supervisor, world.far_facility)
    message = str(refused.value)
    assert message.startswith("You may invite workers only to facilities in your jurisdiction.")
    assert message.endswith(f"{_named(world.far_supervisor)} or {_named(world.state_admin)} can.")


def test_an_invitation_managed_from_outside_says_why_and_names_its_governors(world):
    from accounts.services.onboarding import invitation_revoke

    sent = _invite(world, world.supervisor, world.facility)
    message = _refused(invitation_revoke, user=sent.user, acting_user=world.far_supervisor)
    assert message.startswith("You may not manage this account's invitation: it is outside your jurisdiction.")
    assert _named(world.supervisor) in message and _named(world.far_supervisor) not in message
