"""Step-up codes count as failures like login codes: the same django-axes lock, the same events, the same
anomaly rule, the hold after a third lock; the lock ends every session, and no code is checked while locked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, Alert, LoginHold, UserSession
from accounts.services.lockouts import lockout_clear
from governance.jobs import job_run
from tests.accounts.test_login_flow import approved as approved  # the fixtures, reused
from tests.accounts.test_login_flow import phone as phone
from tests.accounts.test_login_flow import post_code, signed_in_as, totp_now
from tests.accounts.test_login_lockouts import IP_B, fail, locks, notices, password_passes
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

STEP_UP, LOGIN = "/accounts/step-up/", "/accounts/login/"
LOCK = timedelta(minutes=15)
# django-otp's back-off after at most 10 wrong codes is at most 2**9 s (8.5 minutes): past it, within the
# 15-minute lock, only the lock can refuse a right code.
PAST_BACK_OFF = timedelta(minutes=10)
WRONG_PAGE = "That code is not right"
SIGNED_OUT = "You were signed out after too many wrong codes."


def signed_in(world) -> Client:
    client = Client()
    sign_in(client, world.worker)
    return client


def is_signed_in(client) -> bool:
    response = client.get("/")
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN)
        return False
    assert response.status_code == 200
    return True


def wrong_code(phone) -> str:
    accepted = {totp_now(phone, step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


def step_up(client, token):
    return client.post(STEP_UP, {"method": "totp", "token": token})


def wrong_step_ups(client, phone, times: int) -> None:
    """`times` wrong codes, none of them the one that locks."""
    for _ in range(times):
        response = step_up(client, wrong_code(phone))
        assert response.status_code == 200 and WRONG_PAGE in response.content.decode()


def signed_out_for_wrong_codes(response, client) -> str:
    """The response sent the person to the login page; the page says why. Returns that page."""
    assert response.status_code == 302 and response["Location"] == LOGIN
    page = client.get(LOGIN).content.decode()
    assert SIGNED_OUT in page
    return page


def lock_by_step_up(client, phone) -> str:
    wrong_step_ups(client, phone, settings.AXES_FAILURE_LIMIT - 1)
    return signed_out_for_wrong_codes(step_up(client, wrong_code(phone)), client)


def failures_counted(username="asha") -> int:
    return sum(AccessAttempt.objects.filter(username=username).values_list("failures_since_start", flat=True))


def device_state(phone) -> tuple:
    phone.refresh_from_db()
    return phone.last_t, phone.throttling_failure_count, phone.throttling_failure_timestamp


def events(user, kind) -> list[AccountEvent]:
    return list(AccountEvent.objects.filter(subject=user, type=kind).order_by("pk"))


def test_ten_wrong_step_up_codes_lock_the_account_and_end_all_its_sessions(world, phone):
    stolen, elsewhere = signed_in(world), signed_in(world)
    wrong_step_ups(stolen, phone, settings.AXES_FAILURE_LIMIT - 1)
    assert locks(world.worker) == 0 and failures_counted() == 9 and is_signed_in(stolen)

    page = signed_out_for_wrong_codes(step_up(stolen, wrong_code(phone)), stolen)
    assert f"Wait {settings.PRAHARI_LOCKOUT_MINUTES} minutes" in page and "call your supervisor" in page
    assert failures_counted() == 10
    [lock] = events(world.worker, AccountEventType.LOCKED_OUT)
    assert lock.data == {"sessions_ended": 2}
    failed = events(world.worker, AccountEventType.OTP_FAILED)
    assert [e.data["category"] for e in failed] == ["otp_step_up_totp"] * 10
    assert events(world.worker, AccountEventType.SESSIONS_ENDED)[0].data["reason"] == "locked"
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert not is_signed_in(stolen) and not is_signed_in(elsewhere)
    assert notices(world.supervisor) == ["lockout"]


def test_the_signed_out_page_speaks_hindi(world, phone):
    stolen = signed_in(world)
    wrong_step_ups(stolen, phone, settings.AXES_FAILURE_LIMIT - 1)
    stolen.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    response = step_up(stolen, wrong_code(phone))
    assert response.status_code == 302 and response["Location"] == LOGIN
    page = stolen.get(LOGIN).content.decode()
    assert "बहुत बार गलत कोड डालने के कारण आपको लॉग आउट कर दिया गया है।" in page and "पर्यवेक्षक" in page


def test_a_right_step_up_code_is_refused_while_the_account_is_locked(world, phone):
    with freeze_time(timezone.now()) as clock:
        stolen = signed_in(world)
        lock_by_step_up(stolen, phone)
        clock.tick(PAST_BACK_OFF)
        right, before = totp_now(phone), device_state(phone)
        old = step_up(stolen, right)  # the lock ended this session
        assert old.status_code == 302 and old["Location"].startswith(LOGIN + "?next=")

        fresh = signed_in(world)  # a session that exists during the lock all the same
        signed_out_for_wrong_codes(step_up(fresh, right), fresh)
        assert not is_signed_in(fresh)
        assert device_state(phone) == before  # the code was never checked
        assert failures_counted() == 10  # and not counted either
        assert not events(world.worker, AccountEventType.STEP_UP_SUCCEEDED)

        clock.tick(LOCK - PAST_BACK_OFF + timedelta(seconds=1))  # the lock is over
        later = signed_in(world)
        accepted = step_up(later, totp_now(phone))
        assert accepted.status_code == 302 and accepted["Location"] == "/"
        assert len(events(world.worker, AccountEventType.STEP_UP_SUCCEEDED)) == 1


def test_a_right_step_up_code_is_refused_while_the_account_is_held(world, phone):
    LoginHold.objects.create(user=world.worker, lockouts=3)
    client, before = signed_in(world), device_state(phone)
    page = signed_out_for_wrong_codes(step_up(client, totp_now(phone)), client)
    assert "stays locked until your supervisor unlocks it" in page
    assert device_state(phone) == before  # the code was never checked
    assert not events(world.worker, AccountEventType.STEP_UP_SUCCEEDED)

    lockout_clear(user=world.worker, acting_user=world.supervisor, reason="spoke to her by phone")
    client = signed_in(world)
    assert step_up(client, totp_now(phone))["Location"] == "/"


def test_a_full_login_is_refused_while_step_up_failures_lock_the_account(world, approved, phone):
    succeeded = len(events(world.worker, AccountEventType.LOGIN_SUCCEEDED))
    with freeze_time(timezone.now() + timedelta(seconds=31)) as clock:  # past the code `approved` used
        assert password_passes(approved)  # a login half done: on the code page
        lock_by_step_up(signed_in(world), phone)
        clock.tick(PAST_BACK_OFF)
        response = post_code(approved, totp_now(phone))  # the right code
        assert response.status_code == 302 and response["Location"] == LOGIN
        assert not password_passes(approved)  # the right password: the same page as any failure
        assert signed_in_as(approved) is None
    assert len(events(world.worker, AccountEventType.LOGIN_SUCCEEDED)) == succeeded


@pytest.mark.parametrize("first", ["login", "step_up"])
def test_step_up_and_login_failures_add_up_to_one_lock(world, approved, phone, first):
    """Four wrong passwords and a wrong login code, and five wrong step-up codes, in either order."""
    with freeze_time(timezone.now() + timedelta(seconds=31)):  # past the code `approved` used
        stolen = signed_in(world)
        if first == "step_up":
            wrong_step_ups(stolen, phone, 5)
        fail(Client(), 4, ip=IP_B)
        assert password_passes(approved)
        at_login = post_code(approved, wrong_code(phone))
        if first == "login":
            assert at_login.status_code == 200 and WRONG_PAGE in at_login.content.decode()
            wrong_step_ups(stolen, phone, 4)
            assert locks(world.worker) == 0
            signed_out_for_wrong_codes(step_up(stolen, wrong_code(phone)), stolen)
        else:  # the tenth failure, at the login, locks: the step-up session ends too
            assert at_login.status_code == 302 and at_login["Location"] == LOGIN
    assert failures_counted() == 10 and locks(world.worker) == 1
    categories = [e.data["category"] for e in events(world.worker, AccountEventType.OTP_FAILED)]
    assert sorted(categories) == ["otp_step_up_totp"] * 5 + ["otp_totp"]
    [lock] = events(world.worker, AccountEventType.LOCKED_OUT)
    assert lock.data == {"sessions_ended": 1}
    assert not is_signed_in(stolen)


@pytest.mark.parametrize(("count", "fires"), [(5, True), (4, False)])
def test_the_failed_logins_rule_sees_step_up_failures(world, phone, count, fires):
    assert count < settings.AXES_FAILURE_LIMIT
    wrong_step_ups(signed_in(world), phone, count)
    job_run("anomalies", now=timezone.now())
    found = list(Alert.objects.filter(rule="failed_logins", subject=world.worker))
    assert len(found) == int(fires)
    if fires:
        failed = events(world.worker, AccountEventType.OTP_FAILED)
        assert found[0].evidence["events"] == [e.pk for e in failed]
        assert {e.data["category"] for e in failed} == {"otp_step_up_totp"}


def test_the_third_step_up_lock_in_a_day_holds_the_account_until_its_supervisor_unlocks_it(world, phone):
    with freeze_time(timezone.now()) as clock:
        lock_by_step_up(signed_in(world), phone)
        clock.tick(LOCK + timedelta(seconds=1))
        lock_by_step_up(signed_in(world), phone)
        clock.tick(timedelta(hours=23) - LOCK)
        assert not LoginHold.objects.exists()
        page = lock_by_step_up(signed_in(world), phone)
        assert "stays locked until your supervisor unlocks it" in page
        assert locks(world.worker) == 3
        hold = LoginHold.objects.get(user=world.worker, cleared_at__isnull=True)
        assert hold.lockouts == 3
        assert len(events(world.worker, AccountEventType.LOGIN_HELD)) == 1
        assert notices(world.supervisor) == ["lockout", "lockout", "login_held"]

        clock.tick(LOCK + timedelta(seconds=1))  # axes has let go; the hold has not
        client = signed_in(world)
        signed_out_for_wrong_codes(step_up(client, totp_now(phone)), client)
        assert not events(world.worker, AccountEventType.STEP_UP_SUCCEEDED)
        assert not password_passes(Client())
