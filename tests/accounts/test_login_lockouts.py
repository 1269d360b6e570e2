"""Lockouts through the real login pages: per username across IPs, release, the hold after a third lock,
supervisor unlock, notices, the per-IP refusal (credential stuffing), and what django-axes keeps."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.exceptions import DomainError, NotPermitted
from accounts.login.failures import login_is_locked
from accounts.login.lockouts import AxesHandler, widest_parameter_sets
from accounts.models import AccountEvent, AccountEventType, LoginHold, Notification, UserSession
from accounts.services.lockouts import lockout_clear
from tests.accounts.test_login_flow import (
    CODE,
    PASSWORD,
    post_code,
    post_password,
    signed_in_as,
    totp_now,
    without_csrf,
)
from tests.accounts.test_login_flow import approved as approved  # the fixtures, reused
from tests.accounts.test_login_flow import phone as phone
from tests.conftest import sign_in as session_for

IP_A, IP_B, IP_C = "10.1.0.1", "10.2.0.2", "10.3.0.3"
STUFFER, NEIGHBOUR = "203.0.113.66", "203.0.113.67"
WRONG = "not the password, sorry"
LOCK = timedelta(minutes=15)
FAILED = "Sign-in failed"


def fail(client, times=1, *, username="asha", ip=IP_A):
    for _ in range(times):
        response = post_password(client, username, WRONG, REMOTE_ADDR=ip)
        assert response.status_code == 200 and FAILED in response.content.decode()


def password_passes(client, *, username="asha", ip=IP_A) -> bool:
    """The right password: True when it leads on to the code page, False for the generic failure page."""
    response = post_password(client, username, PASSWORD, REMOTE_ADDR=ip)
    if response.status_code == 302:
        assert response["Location"] == CODE
        return True
    assert response.status_code == 200 and FAILED in response.content.decode()
    return False


def sign_in(client, phone, *, ip=IP_A) -> None:
    """Password and code, on asha's approved browser; the clock must be past the last code used."""
    assert password_passes(client, ip=ip)
    response = client.post(CODE, {"method": "totp", "token": totp_now(phone)}, REMOTE_ADDR=ip)
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(client) == "asha"
    client.post("/accounts/logout/")


def locks(user) -> int:
    return AccountEvent.objects.filter(subject=user, type=AccountEventType.LOCKED_OUT).count()


def notices(user) -> list[str]:
    """The lock notices `user` was sent by SMS, oldest first (each also goes by e-mail)."""
    assert user.mobile, "without a number no SMS notice is written: the check would prove nothing"
    rows = Notification.objects.filter(user=user, kind__in=("lockout", "login_held"), channel="sms")
    return list(rows.order_by("created_at", "pk").values_list("kind", flat=True))


def later():
    """A frozen clock past the `approved` fixture's code, so the next TOTP code is a fresh one."""
    return freeze_time(timezone.now() + timedelta(seconds=31))


@pytest.mark.django_db
def test_failures_from_different_ips_count_together_for_the_username(world, approved):
    fail(approved, 5, ip=IP_A)
    fail(approved, 4, ip=IP_B)
    assert password_passes(approved, ip=IP_C)  # 9 failures: not locked; a right password alone resets nothing
    fail(approved, 1, ip=IP_B)
    assert locks(world.worker) == 1
    assert sorted(AccessAttempt.objects.filter(username="asha").values_list("ip_address", "failures_since_start")) == [
        (IP_A, 5),
        (IP_B, 5),
    ]
    for ip in (IP_A, IP_B, IP_C):  # locked everywhere, right password or not, same page
        assert not password_passes(approved, ip=ip)
    assert password_passes(approved, username="ravi", ip=IP_A)  # the lock is asha's, not the IP's


@pytest.mark.django_db
def test_a_lock_is_released_after_fifteen_minutes(world, approved, phone):
    with later() as clock:
        fail(approved, 10)
        assert locks(world.worker) == 1
        clock.tick(LOCK - timedelta(seconds=1))
        assert not password_passes(approved)
        clock.tick(timedelta(seconds=2))
        sign_in(approved, phone)
    assert not LoginHold.objects.exists()


@pytest.mark.django_db
def test_the_third_lock_in_a_day_holds_the_account_until_its_supervisor_unlocks_it(world, approved, phone):
    with later() as clock:
        fail(approved, 10, ip=IP_A)
        clock.tick(timedelta(hours=12))
        fail(approved, 10, ip=IP_B)
        clock.tick(timedelta(hours=12, seconds=1))
        fail(approved, 10, ip=IP_C)  # a third lock, but the first is now more than 24 hours old
        assert locks(world.worker) == 3
        assert not LoginHold.objects.exists()
        clock.tick(LOCK + timedelta(seconds=1))
        fail(approved, 10, ip=IP_A)  # the third lock within 24 hours
        assert locks(world.worker) == 4
        hold = LoginHold.objects.get(user=world.worker, cleared_at__isnull=True)
        assert hold.lockouts == 3
        assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGIN_HELD).count() == 1
        assert notices(world.supervisor) == ["lockout", "lockout", "lockout", "login_held"]
        assert notices(world.far_supervisor) == []  # another district's supervisor is not told

        clock.tick(LOCK + timedelta(seconds=1))
        assert not password_passes(approved)  # axes has let go; the hold has not
        clock.tick(timedelta(hours=2))
        assert not password_passes(approved, ip=IP_C)
        for outsider in (world.far_supervisor, world.worker):
            with pytest.raises(NotPermitted):
                lockout_clear(user=world.worker, acting_user=outsider, reason="asked me to")
        with pytest.raises(DomainError):
            lockout_clear(user=world.worker, acting_user=world.supervisor, reason=" ")
        assert not password_passes(approved)

        lockout_clear(user=world.worker, acting_user=world.supervisor, reason="spoke to her by phone")
        hold.refresh_from_db()
        assert hold.cleared_at is not None and hold.cleared_by == world.supervisor
        assert hold.clear_reason == "spoke to her by phone"
        cleared = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.LOCKOUT_CLEARED)
        assert cleared.actor == world.supervisor and cleared.reason == "spoke to her by phone"
        sign_in(approved, phone)


@pytest.mark.django_db
def test_a_lock_ends_every_session_of_the_account(world):
    """SECURITY.md §Sessions: someone guessing at the login page ends the sessions the worker has open."""
    open_sessions = [Client(), Client()]
    for client in open_sessions:
        session_for(client, world.worker)
    session_for(Client(), world.colleague)
    fail(Client(), 9)
    assert [c.get("/").status_code for c in open_sessions] == [200, 200]
    fail(Client(), 1)
    [lock] = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOCKED_OUT)
    assert lock.data == {"sessions_ended": 2}
    for client in open_sessions:
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert UserSession.objects.filter(user=world.colleague).count() == 1  # only the locked account's


@pytest.mark.django_db
def test_an_unlock_lifts_a_lock_at_once_and_a_new_lock_is_recorded_and_notified_again(world, approved):
    with later() as clock:
        fail(approved, 10)
        clock.tick(timedelta(minutes=1))
        assert not password_passes(approved)
        lockout_clear(user=world.worker, acting_user=world.supervisor, reason="she forgot her password")
        assert password_passes(approved)  # 2 minutes into a 15-minute lock
        clock.tick(timedelta(minutes=1))
        fail(approved, 10)
        assert locks(world.worker) == 2
        assert notices(world.supervisor) == ["lockout", "lockout"]
        assert not password_passes(approved)


@pytest.mark.django_db
@pytest.mark.parametrize("bar", ["lock", "hold"])
def test_a_login_half_done_before_a_lock_cannot_finish_during_it(world, approved, phone, bar):
    with later():
        assert password_passes(approved)  # on the code page
        if bar == "lock":
            fail(Client(), 10, ip=IP_B)  # meanwhile someone else's failures lock the account
        else:
            LoginHold.objects.create(user=world.worker, lockouts=3)
        response = post_code(approved, totp_now(phone))
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert signed_in_as(approved) is None
    assert not AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGIN_SUCCEEDED).exists()


@pytest.mark.django_db
def test_fifty_failures_from_one_ip_within_an_hour_refuse_that_ip_for_an_hour(world, approved):
    stuffer, worker = Client(), Client()
    with freeze_time(timezone.now()) as clock:
        fail(stuffer, username="nobody-0", ip=STUFFER)
        clock.tick(timedelta(minutes=61))
        for i in range(1, 50):  # 50 failures so far, but not within one hour
            fail(stuffer, username=f"nobody-{i}", ip=STUFFER)
            clock.tick(timedelta(minutes=1))
        assert password_passes(worker, ip=STUFFER)
        fail(stuffer, username="nobody-50", ip=STUFFER)  # 50 within the last 49 minutes
        unknown_user = without_csrf(post_password(Client(), "nobody-at-all", REMOTE_ADDR=NEIGHBOUR).content)
        refused = post_password(worker, "asha", REMOTE_ADDR=STUFFER)  # a real user, the right password
        assert refused.status_code == 200 and without_csrf(refused.content) == unknown_user
        assert password_passes(worker, ip=NEIGHBOUR)
        clock.tick(timedelta(minutes=59))
        assert not password_passes(worker, ip=STUFFER)
        clock.tick(timedelta(minutes=2))  # an hour after the last failure
        assert password_passes(worker, ip=STUFFER)
    categories = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGIN_FAILED)
    assert list(categories.values_list("data__category", flat=True)) == ["ip_blocked", "ip_blocked"]


@pytest.mark.django_db
def test_a_full_login_resets_the_count_for_every_ip(world, approved, phone):
    with later():
        fail(approved, 5, ip=IP_A)
        fail(approved, 4, ip=IP_B)
        sign_in(approved, phone, ip=IP_C)
        assert not AccessAttempt.objects.filter(username="asha").exists()
        fail(approved, 5, ip=IP_A)
        fail(approved, 4, ip=IP_B)
        assert locks(world.worker) == 0
        fail(approved, 1, ip=IP_B)
        assert locks(world.worker) == 1


@pytest.mark.django_db
def test_axes_keeps_no_success_log_and_never_a_password_or_code(world, approved, phone):
    secret_password = "my very secret passphrase 7781"
    with later() as clock:
        current = totp_now(phone)
        wrong_code = f"{(int(current) + 500_000) % 1_000_000:06d}"
        post_password(approved, "asha", secret_password)
        assert password_passes(approved)
        post_code(approved, wrong_code)
        rows = list(AccessAttempt.objects.all())  # a success deletes them: read them now
        clock.tick(timedelta(seconds=2))  # past django-otp's back-off
        sign_in(approved, phone)
    assert sum(row.failures_since_start for row in rows) == 2
    for row in rows:
        assert "password=" in row.post_data and "token=" in row.post_data  # recorded, masked
        for secret in (secret_password, PASSWORD, wrong_code, current):
            assert secret not in row.get_data and secret not in row.post_data
    failures = list(AccessFailureLog.objects.values())
    assert len(failures) == 2
    for secret in (secret_password, PASSWORD, wrong_code, current):
        assert secret not in str(failures)
        assert secret not in str(list(AccountEvent.objects.values("reason", "data")))
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize(
    ("sets", "widest"),
    [
        ([{"username": "a"}, {"username": "a", "ip_address": "1"}], [{"username": "a"}]),
        ([{"username": "a", "ip_address": "1"}, {"username": "a"}], [{"username": "a"}]),
        ([{"ip_address": "1"}, {"username": "a"}], [{"ip_address": "1"}, {"username": "a"}]),
        ([{"username": None}, {"username": None, "ip_address": "1"}], [{"username": None}]),
        ([{"username": "a"}, {"username": "a"}], [{"username": "a"}]),
        (
            [{"username": "a", "ip_address": "1"}, {"username": "b"}],
            [{"username": "a", "ip_address": "1"}, {"username": "b"}],
        ),
    ],
)
def test_only_the_widest_lockout_parameter_sets_are_queried(sets, widest):
    assert widest_parameter_sets(sets) == widest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "parameters", [["username", ["username", "ip_address"]], ["ip_address", "username"], [["username", "ip_address"]]]
)
def test_our_axes_handler_counts_and_resets_exactly_as_axes_does(world, rf, settings, parameters):
    """The same largest failure sum and the same rows deleted as django-axes' own database handler."""
    settings.AXES_LOCKOUT_PARAMETERS = parameters

    def attempts():
        AccessAttempt.objects.all().delete()
        for username, ip, failures in [("asha", IP_A, 3), ("asha", IP_B, 4), ("ravi", IP_A, 6), ("ravi", IP_C, 1)]:
            AccessAttempt.objects.create(
                username=username,
                ip_address=ip,
                user_agent="UA",
                failures_since_start=failures,
                get_data="",
                post_data="",
            )

    def request(ip):
        request = rf.post("/accounts/login/", REMOTE_ADDR=ip, HTTP_USER_AGENT="UA")
        AxesProxyHandler.update_request(request)
        return request

    attempts()
    ours, axes = AxesHandler(), AxesDatabaseHandler()
    for username in ("asha", "ravi", "nobody"):
        for ip in (IP_A, IP_B, IP_C):
            credentials = {"username": username}
            expected = axes.get_failures(request(ip), credentials)
            assert ours.get_failures(request(ip), credentials) == expected, (username, ip)
    for username in ("asha", "ravi"):
        for ip in (IP_A, IP_C):
            attempts()
            axes.reset_user_attempts(request(ip), {"username": username})
            expected = set(AccessAttempt.objects.values_list("username", "ip_address"))
            attempts()
            ours.reset_user_attempts(request(ip), {"username": username})
            assert set(AccessAttempt.objects.values_list("username", "ip_address")) == expected


@pytest.mark.django_db
def test_a_lock_check_is_one_query_with_our_parameters(world, rf, django_assert_num_queries):
    request = rf.post("/accounts/login/", REMOTE_ADDR=IP_A)
    AxesProxyHandler.update_request(request)
    with django_assert_num_queries(1):
        assert not login_is_locked(request, "asha")


@pytest.mark.django_db
def test_a_login_leaves_expired_attempts_to_the_next_failure_which_does_not_count_them(world, approved, phone, caplog):
    """Our axes handler skips axes' clean-up of expired attempts at a login (and still logs the login):
    axes deletes them anyway before it counts a failure, so a failure long ago never adds to a new one."""
    other = Client()
    fail(other, username="ravi", ip=IP_B)
    AccessAttempt.objects.filter(username="ravi").update(
        failures_since_start=9, attempt_time=timezone.now() - LOCK - timedelta(minutes=1)
    )
    with later(), caplog.at_level(logging.INFO, logger="axes"):
        assert password_passes(approved)  # asha signs in (and stays: a logout cleans up too)
        assert approved.post(CODE, {"method": "totp", "token": totp_now(phone)})["Location"] == "/"
    assert "AXES: Successful login by" in caplog.text
    assert AccessAttempt.objects.filter(username="ravi", failures_since_start=9).exists()  # left for later
    fail(other, username="ravi", ip=IP_B)
    assert list(AccessAttempt.objects.filter(username="ravi").values_list("failures_since_start", flat=True)) == [1]
    assert locks(world.colleague) == 0


@pytest.mark.django_db
def test_a_login_whose_lock_check_counted_no_failure_skips_the_reset(world, approved, phone):
    """The code step's lock check already counted asha's failures (read with her account): none that
    count (an expired attempt never does), so the login asks nothing more about them; the next failure
    still counts from one."""
    fail(approved)
    AccessAttempt.objects.filter(username="asha").update(
        failures_since_start=9, attempt_time=timezone.now() - LOCK - timedelta(minutes=1)
    )
    with later():
        assert password_passes(approved)
        with CaptureQueriesContext(connection) as queries:
            assert approved.post(CODE, {"method": "totp", "token": totp_now(phone)})["Location"] == "/"
        on_attempts = [q["sql"] for q in queries.captured_queries if "axes_accessattempt" in q["sql"]]
        assert len(on_attempts) == 1 and "accounts_user" in on_attempts[0]  # counted with the account read
        approved.post("/accounts/logout/")
        fail(approved)
    assert list(AccessAttempt.objects.filter(username="asha").values_list("failures_since_start", flat=True)) == [1]
    assert locks(world.worker) == 0


@pytest.mark.django_db
def test_a_login_resets_every_ip_also_when_lockouts_count_per_username_and_ip_only(world, approved, phone, settings):
    """Then the lock check from one IP counts none of another IP's failures: the login still wipes them."""
    settings.AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
    with later():
        fail(approved, 3, ip=IP_B)
        sign_in(approved, phone, ip=IP_A)
    assert not AccessAttempt.objects.filter(username="asha").exists()


@pytest.mark.django_db
def test_the_console_reads_a_real_lock_as_axes_judges_it(world, approved):
    from accounts.models import User
    from accounts.services.lockouts import lock_state, locked_now_q

    fail(approved, 9)
    assert not lock_state(world.worker).locked and not User.objects.filter(locked_now_q()).exists()
    fail(approved, 1, ip=IP_B)
    state = lock_state(world.worker)
    first = AccessAttempt.objects.get(username="asha", ip_address=IP_A).attempt_time
    assert state.locked and state.failures == 10 and state.locked_until == first + LOCK
    assert list(User.objects.filter(locked_now_q()).values_list("username", flat=True)) == ["asha"]
    assert not password_passes(approved, ip=IP_C)  # axes agrees: locked
