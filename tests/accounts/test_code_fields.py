"""Every field that takes a one-time code opens the phone's number pad and offers the code from the SMS
(`inputmode="numeric"`, `autocomplete="one-time-code"`, 6 digits), never shows a typed code back, and a backup
code (letters and digits) has a field of its own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.forms import CodeForm, SMSCodeForm
from accounts.login.session import AUTH_AT_KEY
from accounts.models import Notification
from accounts.services.otp import backup_codes_generate
from governance.reviews import review_attest
from tests.accounts.test_login_flow import CODE, post_code, post_password
from tests.accounts.test_onboarding import invite, token_of
from tests.conftest import sign_in

NUMERIC = {"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}", "maxlength": "6"}


def attributes(html: str, name: str) -> dict[str, str]:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert tag, f"no input named {name}"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def assert_numeric(html: str, name: str = "token") -> None:
    found = attributes(html, name)
    assert {key: found.get(key) for key in NUMERIC} == NUMERIC
    assert "value" not in found


@pytest.fixture
def phone(world):
    return TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)


@pytest.mark.django_db
def test_the_login_page_tells_password_managers_what_each_field_is(client):
    html = client.get("/accounts/login/").content.decode()
    username, password = attributes(html, "username"), attributes(html, "password")
    assert username["autocomplete"] == "username" and username["type"] == "text"
    assert password["autocomplete"] == "current-password" and password["type"] == "password"
    assert "onpaste" not in html and "value" not in password  # pasting is allowed; nothing typed comes back


@pytest.mark.django_db
def test_the_login_code_is_numeric_and_a_backup_code_has_its_own_text_field(world, client, phone):
    post_password(client, world.worker.username)
    html = client.get(CODE).content.decode()
    assert_numeric(html)
    assert 'name="backup_code"' not in html  # no backup codes yet: nothing to offer
    backup_codes_generate(user=world.worker)
    html = client.get(CODE).content.decode()
    assert_numeric(html)
    backup = attributes(html, "backup_code")
    assert backup["inputmode"] == "text" and backup["autocomplete"] == "one-time-code" and "value" not in backup
    assert "<details" in html and "Use a backup code instead" in html  # without JavaScript
    assert '<option value="backup"' not in html


@pytest.mark.django_db
def test_a_refused_code_is_not_shown_back_and_letters_get_a_clear_uncounted_error(world, client, phone):
    post_password(client, world.worker.username)
    wrong = post_code(client, "000001")
    assert wrong.status_code == 200 and "000001" not in wrong.content.decode()
    assert AccessAttempt.objects.get(username=world.worker.username).failures_since_start == 1
    letters = post_code(client, "12ab56")
    assert "A code is 6 digits" in letters.content.decode() and "12ab56" not in letters.content.decode()
    assert AccessAttempt.objects.get(username=world.worker.username).failures_since_start == 1
    spaced = post_code(client, "123 456")  # as read aloud: spaces are dropped, then it is an ordinary wrong code
    assert "A code is 6 digits" not in spaced.content.decode()


@pytest.mark.django_db
def test_step_up_and_re_confirmation_codes_are_numeric(world, client):
    sign_in(client, world.worker)
    assert_numeric(client.get("/accounts/step-up/").content.decode())
    review_attest(user=world.worker, acting_user=world.supervisor, reason="still at PHC Chinhat")
    session = client.session
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=10)).isoformat()
    session.save()
    assert_numeric(client.get("/accounts/reconfirm/").content.decode())


@pytest.mark.django_db
def test_the_password_reset_code_is_numeric(world, client, phone):
    world.worker.mobile = "+919876500000"
    world.worker.save()
    client.post("/accounts/password-reset/", {"username_or_email": world.worker.username})
    row = Notification.objects.filter(user=world.worker, kind="password_reset_link").latest("pk")
    path = "/" + row.context["url"].split("/", 3)[3]
    assert_numeric(Client().get(path).content.decode())


@pytest.mark.django_db
def test_enrolment_and_first_authenticator_codes_are_numeric(world, client):
    sent = invite(world, base_url="https://prahari.example/")
    assert_numeric(Client().get(f"/accounts/enrol/{token_of(sent)}/", secure=True).content.decode())
    post_password(client, world.colleague.username)  # no authenticator yet: the login asks to set one up
    assert_numeric(client.get("/accounts/login/enrol/").content.decode())


def test_the_security_pages_code_fields_are_numeric():
    assert_numeric(str(CodeForm(prefix="totp")), "totp-token")
    assert_numeric(str(SMSCodeForm(prefix="sms")), "sms-token")
    assert_numeric(str(SMSCodeForm(prefix="mobile", data={"mobile-token": "123456"})), "mobile-token")
