"""The login gate's one read at each step (`door_read`): the account, its hold, django-axes' count of its
name and the client address's recent failures, and the lock check that takes that count instead of
counting again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.login.failures import door_read, failure_counted, login_is_locked
from accounts.models import AccountEvent, AccountEventType
from tests.accounts.test_login_flow import plan_of

IP_A, IP_B = "10.1.0.1", "10.2.0.2"
UA = "UA"


def attempt(username: str, ip: str, failures: int, *, ago: timedelta = timedelta(minutes=1), ua: str = UA) -> None:
    AccessAttempt.objects.create(
        username=username,
        ip_address=ip,
        user_agent=ua,
        failures_since_start=failures,
        attempt_time=timezone.now() - ago,
        get_data="",
        post_data="",
    )


def login_request(rf, ip: str = IP_A):
    return rf.post("/accounts/login/", REMOTE_ADDR=ip, HTTP_USER_AGENT=UA)


def axes_count(rf, username: str, ip: str) -> int:
    request = login_request(rf, ip)
    AxesProxyHandler.update_request(request)
    return AxesDatabaseHandler().get_failures(request, {"username": username})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "parameters", [["username", ["username", "ip_address"]], ["ip_address", "username"], [["username", "ip_address"]]]
)
def test_the_lock_check_after_the_door_counts_as_axes_does(world, rf, settings, parameters):
    """Whatever the lockout parameters, the lock check that follows the door answers with axes' own count;
    with ours (the username among them) it takes the door's count and asks nothing more."""
    settings.AXES_LOCKOUT_PARAMETERS = parameters
    attempt("asha", IP_A, 3)
    attempt("asha", IP_B, 4)
    attempt("asha", IP_B, 9, ago=timedelta(hours=2), ua="other")  # past the cool-off: never counts
    attempt("nobody-here", IP_A, 2)
    for typed in ("asha", "ASHA", "nobody-here", "ravi"):
        for ip in (IP_A, IP_B):
            request = login_request(rf, ip)
            door = door_read(request, username=typed, ip=ip)
            with CaptureQueriesContext(connection) as queries:
                counted = AxesProxyHandler.get_failures(request, {"username": door.username})
            assert counted == axes_count(rf, door.username, ip), (typed, ip)
            fresh = login_request(rf, ip)
            AxesProxyHandler.update_request(fresh)
            with CaptureQueriesContext(connection) as without_door:
                AxesProxyHandler.get_failures(fresh, {"username": door.username})
            taken = parameters[0] == "username"
            assert len(queries.captured_queries) == (0 if taken else len(without_door.captured_queries)), (typed, ip)


@pytest.mark.django_db
def test_the_door_reads_by_pk_with_the_count_of_the_accounts_name(world, rf):
    attempt("asha", IP_B, 4)
    request = login_request(rf)
    door = door_read(request, pk=world.worker.pk)
    assert door.user == world.worker and door.username == "asha" and door.failures == 4
    assert door_read(login_request(rf), pk="not a number").user is None


@pytest.mark.django_db
def test_the_doors_count_serves_one_lock_check_only(world, rf, django_assert_num_queries):
    request = login_request(rf)
    door_read(request, username="asha", ip=IP_A)
    with django_assert_num_queries(0):
        assert not login_is_locked(request, "asha")
    with django_assert_num_queries(1):
        assert not login_is_locked(request, "asha")


@pytest.mark.django_db
def test_a_failure_recorded_after_the_door_is_counted_anew_and_locks(world, rf, settings):
    """The door read one failure short of the limit; the wrong code that follows in the same request
    reaches it: axes locks (its signal records the lock), it does not reuse the count read before."""
    attempt("asha", IP_A, settings.AXES_FAILURE_LIMIT - 1)
    request = rf.post("/accounts/login/code/", REMOTE_ADDR=IP_A, HTTP_USER_AGENT=UA)
    door = door_read(request, pk=world.worker.pk)
    assert door.failures == settings.AXES_FAILURE_LIMIT - 1
    assert failure_counted(request, user=world.worker, category="otp_totp")
    assert request.axes_locked_out
    assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOCKED_OUT).count() == 1


@pytest.mark.django_db
def test_the_door_finds_the_account_through_its_unique_index(world, rf):
    with CaptureQueriesContext(connection) as queries:
        assert door_read(login_request(rf), username="ASHA", ip=IP_A).user == world.worker
    (query,) = queries.captured_queries
    plan = plan_of(query["sql"])
    assert "username_unique_ignoring_case" in plan, plan
