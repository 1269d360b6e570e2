"""Checks that docs/ASVS.md names for items no other test covered directly: passwords taken exactly as typed
and never expired, logout on every signed-in page and on the server, no login for the system actor, HSTS,
the session cookies' attributes, and logs written only where docs/operations.md says."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, UserSession
from tests.accounts.test_login_flow import CODE, post_password
from tests.conftest import sign_in
from tests.portal.test_logs import log_lines as log_lines  # the fixture, reused

pytestmark = pytest.mark.django_db

LONG = "  Correct Horse, battery staple – " + "x" * 90 + "  "  # 126 characters, spaces at both ends


def _password_set(user, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def test_a_password_is_checked_exactly_as_typed(world):
    _password_set(world.worker, LONG)
    for wrong in (LONG.strip(), LONG.lower(), LONG[:-1], LONG[:72], LONG + "y"):
        response = post_password(Client(), world.worker.username, password=wrong)
        assert response.status_code == 200, repr(wrong)  # the same page again: refused
    assert post_password(Client(), world.worker.username, password=LONG)["Location"] == CODE


def test_a_password_never_expires(world):
    _password_set(world.worker, LONG)
    with freeze_time(timezone.now() + timedelta(days=3 * 365)):
        response = post_password(Client(), world.worker.username, password=LONG)
    assert response.status_code == 302 and response["Location"] == CODE  # on to the code, no change asked


@pytest.mark.parametrize("path", ["/", "/accounts/me/", "/accounts/security/", "/records/", "/admin/"])
def test_every_signed_in_page_offers_logout(world, path):
    client = Client()
    sign_in(client, world.supervisor)
    body = client.get(path).content.decode()
    assert 'action="/accounts/logout/"' in body or 'action="/admin/logout/"' in body, path


def test_logout_ends_the_session_on_the_server(world):
    client = Client()
    sign_in(client, world.worker)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/accounts/logout/")
    assert not UserSession.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    replay.cookies[settings.DEVICE_COOKIE_NAME] = client.cookies[settings.DEVICE_COOKIE_NAME].value
    assert replay.get("/")["Location"].startswith("/accounts/login/")
    assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGGED_OUT).exists()


def test_the_system_actor_cannot_sign_in(world):
    world.system.set_password(LONG)  # even were a password set on it
    world.system.save(update_fields=["password"])
    response = post_password(Client(), world.system.username, password=LONG)
    assert response.status_code == 200 and "Sign-in failed" in response.content.decode()


def test_hsts_asks_a_year_with_sub_domains(client):
    assert settings.SECURE_HSTS_SECONDS >= 365 * 24 * 3600 and settings.SECURE_HSTS_INCLUDE_SUBDOMAINS
    header = client.get("/accounts/login/", secure=True)["Strict-Transport-Security"]
    assert header == "max-age=31536000; includeSubDomains; preload"


def test_session_and_csrf_cookies_are_secure_httponly_and_lax(world):
    client = Client()
    client.get("/accounts/login/")
    response = post_password(client, world.worker.username)
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        morsel = client.cookies[name]
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax", name
    assert response.status_code == 302


def test_logs_go_only_to_standard_error():
    handlers = settings.LOGGING["handlers"]
    assert list(handlers) == ["console"] and handlers["console"]["class"] == "logging.StreamHandler"
    assert "stream" not in handlers["console"]  # StreamHandler's default: standard error
    assert all(not logger.get("handlers") for logger in settings.LOGGING["loggers"].values())


def test_an_unexpected_error_is_a_generic_page_and_a_logged_traceback(monkeypatch, log_lines):
    def broken() -> bool:
        raise RuntimeError("SELECT secret_column FROM internals -- key=XYZZY-123")

    monkeypatch.setattr("portal.views.database_ok", broken)
    response = Client(raise_request_exception=False).get("/healthz")
    body = response.content.decode()
    assert response.status_code == 500
    assert "XYZZY" not in body and "Traceback" not in body and "secret_column" not in body
    assert "Something went wrong" in body and 'href="/"' in body  # Prahari's own page, a way back
    errors = [line for line in log_lines.parsed() if line["level"] == "ERROR"]
    assert errors and "XYZZY-123" in errors[0]["exc"] and errors[0]["time"].endswith("+00:00")


@pytest.mark.parametrize("word", ["Supervisor", "ASHA", "health", "CoWIN", "immunisation", "prahari"])
def test_role_and_programme_words_are_refused_in_passwords(world, word):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="a word others can guess"):
        validate_password(f"the {word} of kalpi village 2026", world.colleague)
    validate_password("the river of kalpi village 2026", world.colleague)


def test_a_refused_governance_action_is_logged(world, caplog):
    from accounts.exceptions import NotPermitted
    from accounts.services.sessions import user_sessions_end

    with caplog.at_level(logging.WARNING, logger="prahari.security"), pytest.raises(NotPermitted):
        user_sessions_end(user=world.worker, acting_user=world.far_supervisor, reason="not mine to end")
    [record] = [r for r in caplog.records if r.name == "prahari.security"]
    assert record.getMessage() == f"refused end_sessions by user {world.far_supervisor.pk} on account {world.worker.pk}"


def test_the_error_page_speaks_hindi(monkeypatch):
    def broken() -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr("portal.views.database_ok", broken)
    client = Client(raise_request_exception=False)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    response = client.get("/healthz")
    assert response.status_code == 500 and "कुछ गड़बड़ हो गई" in response.content.decode()


def test_a_signed_in_response_without_its_own_cache_header_is_no_store(world):
    client = Client()
    sign_in(client, world.worker)
    response = client.post("/i18n/setlang/", {"language": "hi", "next": "/"})  # a view that sets no header
    assert response.status_code == 302 and "no-store" in response["Cache-Control"]
    anonymous = Client().post("/i18n/setlang/", {"language": "hi", "next": "/"})
    assert not anonymous.has_header("Cache-Control")  # nothing of a person's in it: left alone


def test_a_step_up_rotates_the_session_key_and_ends_the_old_one(world):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    sign_in(client, world.worker)
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    device = TOTPDevice.objects.get(user=world.worker, confirmed=True)
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    response = client.post("/accounts/step-up/?next=/records/", {"method": "totp", "token": code})
    assert response.status_code == 302 and response["Location"] == "/records/"
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before and not UserSession.objects.filter(session_key=before).exists()
    assert UserSession.objects.filter(session_key=after, user=world.worker).exists()
    assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.STEP_UP_SUCCEEDED).exists()
