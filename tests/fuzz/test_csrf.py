"""Every form that changes something refuses a POST without the right CSRF token, whatever the token and cookie
hold: a 403 and nothing written (not even a failure count)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.conftest import sign_in
from tests.fuzz.harness import NASTY, SESSIONS, assert_not_500, changed, snapshot

pytestmark = pytest.mark.django_db

SIGNED_OUT = {
    "/accounts/login/": {"username": "asha", "password": "correct horse battery staple"},
    "/accounts/password-reset/": {"username_or_email": "asha"},
    "/i18n/setlang/": {"language": "hi", "next": "/"},
}
SIGNED_IN = {
    "/accounts/step-up/": {"method": "totp", "token": "123456"},
    "/accounts/password/": {"old_password": "x", "new_password1": "y", "new_password2": "y"},
    "/accounts/security/mobile/": {"new_mobile": "9876543210"},
    "/accounts/logout/": {},
    "/records/": {"purpose": "due_dose", "reference_id": "10000000000001"},
    "/records/10000000000001/reveal/": {"purpose": "due_dose", "field": "mobile", "reason": "to call her"},
    "/admin/accounts/user/": {
        "action": "suspend",
        "_selected_action": ["1"],
        "index": "0",
        "apply": "1",
        "reason": "shared password",
    },
}
TOKEN = st.one_of(st.none(), NASTY.map(lambda s: s[:200]), st.from_regex(r"[A-Za-z0-9]{32,64}", fullmatch=True))


def _post(client: Client, path: str, body: dict, token, cookie):
    assume(token is None or token != cookie)  # the same value twice would be a right token (of nobody's session)
    if cookie is not None:
        # A server hands the application a header's bytes as Latin-1 text: what a browser's UTF-8 cookie becomes.
        client.cookies[settings.CSRF_COOKIE_NAME] = cookie.encode()[:200].decode("latin-1")
    if token is not None:
        body = {**body, "csrfmiddlewaretoken": token}
    return client.post(path, body)


@given(path=st.sampled_from(sorted(SIGNED_OUT)), token=TOKEN, cookie=TOKEN)
def test_signed_out_forms_refuse_a_wrong_csrf_token(world, path, token, cookie):
    client = Client(enforce_csrf_checks=True)
    before = snapshot(SESSIONS)
    response = _post(client, path, SIGNED_OUT[path], token, cookie)
    assert_not_500(response)
    assert response.status_code == 403
    assert changed(before, snapshot(SESSIONS)) == []


@pytest.fixture
def signed_in(world):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, world.supervisor)
    return client


@given(path=st.sampled_from(sorted(SIGNED_IN)), token=TOKEN, cookie=TOKEN)
def test_signed_in_forms_refuse_a_wrong_csrf_token(signed_in, world, path, token, cookie):
    before = snapshot(SESSIONS)
    response = _post(signed_in, path, SIGNED_IN[path], token, cookie)
    assert_not_500(response)
    assert response.status_code == 403
    assert changed(before, snapshot(SESSIONS)) == []
