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
