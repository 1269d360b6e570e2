"""Every form of the login flow under fuzzed input: the password, the one-time code (app, SMS, backup), the
authenticator enrolment at login, and the step-up. Never a 500; a refused input changes nothing but the failure
count (FAILURE_LOG), django-otp's back-off (OTP_THROTTLE) and the session's own pending step (SESSIONS)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import sign_in
from tests.fuzz.harness import (
    FAILURE_LOG,
    NASTY,
    OTP_THROTTLE,
    SESSIONS,
    assert_not_500,
    changed,
    form_data,
    post_raw,
    raw_query,
    snapshot,
)

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
LOGIN, CODE, ENROL, STEP_UP = (
    "/accounts/login/",
    "/accounts/login/code/",
    "/accounts/login/enrol/",
    "/accounts/step-up/",
)
REFUSAL_WRITES = FAILURE_LOG | OTP_THROTTLE | SESSIONS
CODE_FIELDS = {
    "method": st.sampled_from(["totp", "sms", "email", "backup", "TOTP", ""]),
    "token": st.from_regex(r"[0-9]{1,8}", fullmatch=True),
    "backup_code": st.from_regex(r"[a-z0-9 -]{1,30}", fullmatch=True),
}


def _counts_forgotten() -> None:
    """Each example starts below the lockout: what earlier examples counted is forgotten (a lock is not the
    subject here; tests/accounts/test_login_lockouts.py has it)."""
    AccessAttempt.objects.all().delete()
    AccessFailureLog.objects.all().delete()


@pytest.fixture
def worker(world):
    world.worker.set_password(PASSWORD)
    world.worker.save()
    TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    backup = StaticDevice.objects.create(user=world.worker, name="backup", confirmed=True)
    backup.token_set.create(token="abcd2345efgh6789")
    return world.worker


def _pending(user) -> Client:
    """A browser between the password and the code."""
    client = Client()
    assert client.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def _refused_login(response) -> None:
    """Not a 500, and not signed in: a redirect goes back into the flow, never on to the portal."""
    assert_not_500(response)
    if response.status_code == 302:
        assert response["Location"] in (LOGIN, CODE, ENROL)


@given(
    body=st.one_of(
        form_data({"username": st.sampled_from(["asha", "ravi", "nobody"]), "password": NASTY}),
        raw_query(["username", "password", "next"]),
    ),
    next_url=st.one_of(st.none(), NASTY),
)
def test_the_password_form_refuses_anything_but_the_password(worker, body, next_url):
    _counts_forgotten()
    client = Client()
    path = LOGIN if next_url is None else f"{LOGIN}?next={next_url[:200]}"
    before = snapshot(REFUSAL_WRITES)
    response = post_raw(client, path, body) if isinstance(body, str) else client.post(path, body)
    assert_not_500(response)
    assert response.status_code == 200  # the same page for every failure
    assert changed(before, snapshot(REFUSAL_WRITES)) == []


@given(body=st.one_of(form_data(CODE_FIELDS), raw_query(["method", "token", "backup_code"])))
def test_the_code_form_refuses_a_wrong_code_of_any_shape(worker, body):
    _counts_forgotten()
    client = _pending(worker)
    before = snapshot(REFUSAL_WRITES)
    response = post_raw(client, CODE, body) if isinstance(body, str) else client.post(CODE, body)
    _refused_login(response)
    assert response.status_code in (200, 302)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []


@given(body=st.one_of(form_data({"token": st.from_regex(r"[0-9 ]{1,8}", fullmatch=True)}), raw_query(["token"])))
def test_enrolling_an_authenticator_at_login_refuses_a_wrong_code(world, body):
    _counts_forgotten()
    world.colleague.set_password(PASSWORD)
    world.colleague.save()
    client = _pending(world.colleague)
    assert client.get(ENROL).status_code == 200  # the page creates the unconfirmed authenticator once
    before = snapshot(REFUSAL_WRITES)
    response = post_raw(client, ENROL, body) if isinstance(body, str) else client.post(ENROL, body)
    _refused_login(response)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []
    assert not TOTPDevice.objects.filter(user=world.colleague, confirmed=True).exists()


@pytest.fixture
def signed_in(client, world):
    sign_in(client, world.supervisor)
    return client


@given(
    body=st.one_of(form_data(CODE_FIELDS), raw_query(["method", "token", "backup_code"])),
    next_url=st.one_of(st.none(), NASTY),
)
def test_the_step_up_refuses_a_wrong_code_of_any_shape(signed_in, body, next_url):
    _counts_forgotten()
    path = STEP_UP if next_url is None else f"{STEP_UP}?next={next_url[:200]}"
    if isinstance(body, dict) and "send_sms" in body:
        del body["send_sms"]
    before = snapshot(REFUSAL_WRITES)
    response = post_raw(signed_in, path, body) if isinstance(body, str) else signed_in.post(path, body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 403)
    if response.status_code == 302:  # the only way on is a proven code; none of these is one
        assert response["Location"].startswith(("/accounts/login", STEP_UP))
    assert changed(before, snapshot(REFUSAL_WRITES)) == []
