"""A person's own account pages under fuzzed input: password change, password reset (request and confirm),
mobile change, ending a session, revoking a device, removing a sign-in method, and the language switch.
Never a 500; a refused input changes nothing but the failure count and the session."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from accounts import sms
from tests.conftest import sign_in
from tests.fuzz.harness import (
    NASTY,
    REFUSAL_WRITES,
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
BAD_NEW = st.one_of(NASTY, st.just("short"), st.just("password"))  # a new password the validators refuse


@pytest.fixture
def me(client, world, settings):
    settings.SMS_BACKEND = "locmem"
    world.worker.set_password(PASSWORD)
    world.worker.save()
    sign_in(client, world.worker)
    yield client
    sms.outbox.clear()


def _forget_counts() -> None:
    AccessAttempt.objects.all().delete()
    AccessFailureLog.objects.all().delete()


def _post(client, path, body):
    return post_raw(client, path, body) if isinstance(body, str) else client.post(path, body)


@given(
    body=st.one_of(
        form_data({"old_password": NASTY, "new_password1": BAD_NEW, "new_password2": BAD_NEW}),
        raw_query(["old_password", "new_password1", "new_password2"]),
    )
)
def test_a_password_change_with_a_wrong_current_password_or_a_bad_new_one_changes_nothing(me, world, body):
    _forget_counts()
    before = snapshot(REFUSAL_WRITES)
    response = _post(me, "/accounts/password/", body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 403)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []
    world.worker.refresh_from_db()
    assert world.worker.check_password(PASSWORD)


@given(body=st.one_of(form_data({"username_or_email": NASTY}), raw_query(["username_or_email"])))
def test_a_reset_request_for_nobody_changes_nothing(world, body):
    client = Client()
    before = snapshot(REFUSAL_WRITES)
    response = _post(client, "/accounts/password-reset/", body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []


@given(
    uid=st.one_of(NASTY, st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)),
    token=st.one_of(NASTY, st.from_regex(r"[a-z0-9]{1,8}-[a-z0-9]{10,40}", fullmatch=True)),
    body=form_data({"new_password1": NASTY, "new_password2": NASTY, "method": NASTY, "token": NASTY}),
)
def test_a_reset_link_of_any_shape_is_refused(world, uid, token, body):
    _forget_counts()
    uid, token = (part.replace("/", "")[:300] or "x" for part in (uid, token))
    client = Client()
    before = snapshot(REFUSAL_WRITES)
    path = f"/accounts/password-reset/{uid}/{token}/"
    response = client.get(path)
    assert_not_500(response)
    response = client.post(path, body)
    assert_not_500(response)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []


@given(
    path=st.sampled_from(
        ["/accounts/security/mobile/", "/accounts/security/mobile/confirm/", "/accounts/security/sms/confirm/"]
    ),
    body=st.one_of(
        form_data(
            {
                "new_mobile": st.one_of(NASTY, st.from_regex(r"\+?[0-9 ]{1,20}", fullmatch=True)),
                "mobile-token": st.from_regex(r"[0-9]{1,8}", fullmatch=True),
                "sms-token": st.from_regex(r"[0-9]{1,8}", fullmatch=True),
            }
        ),
        raw_query(["new_mobile", "mobile-token", "sms-token"]),
    ),
)
def test_the_mobile_and_sms_forms_refuse_bad_input(me, world, path, body):
    _forget_counts()
    if path.endswith("/mobile/") and isinstance(body, dict):  # a valid number would be taken (a code sent)
        body["new_mobile"] = f"{body.get('new_mobile', '')}"[:30] + "x"
    before = snapshot(REFUSAL_WRITES)
    response = _post(me, path, body)
    assert_not_500(response)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []


@given(
    which=st.sampled_from(["sessions/{}/end/", "devices/{}/revoke/", "security/{}/remove/"]),
    ident=st.one_of(NASTY.map(lambda s: s.replace("/", "")[:200]), st.integers(min_value=-(10**20), max_value=10**20)),
    body=form_data({"confirm": st.sampled_from(["yes", "no"])}),
)
def test_ending_removing_or_revoking_something_not_ones_own_is_refused(me, world, which, ident, body):
    TOTPDevice.objects.get_or_create(user=world.worker, name="app", defaults={"confirmed": True})
    path = "/accounts/" + which.format(ident if str(ident) else "x")
    before = snapshot(SESSIONS)
    response = me.post(path, body)
    assert_not_500(response)
    assert response.status_code in (302, 400, 403, 404, 405)
    assert changed(before, snapshot(SESSIONS)) == []


@given(body=st.one_of(form_data({"language": NASTY, "next": NASTY}), raw_query(["language", "next"])))
def test_the_language_switch_takes_only_a_known_language(me, world, body):
    before = snapshot(SESSIONS)
    response = _post(me, "/i18n/setlang/", body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400)
    language = response.wsgi_request.POST.get("language")
    if language not in ("en", "hi"):
        assert changed(before, snapshot(SESSIONS)) == []
