"""The device cookie (SECURITY.md §Devices): a random token in a signed, HttpOnly, Secure cookie, stored only as
its SHA-256; a cookie whose token or signature was changed, or another account's, is no approved device."""

from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.login.device_cookie import device_token_read
from accounts.models import AccountEvent, AccountEventType, RegisteredDevice, UserSession
from tests.accounts.test_login_flow import approve_pending, full_login, later, phone, signed_in_as  # noqa: F401

pytestmark = pytest.mark.django_db
NAME = settings.DEVICE_COOKIE_NAME


def _token(cookie_value: str) -> str:
    request = RequestFactory().get("/")
    request.COOKIES[NAME] = cookie_value
    token = device_token_read(request)
    assert token
    return token


@pytest.fixture
def approved(world, client, phone):  # noqa: F811
    """asha's browser (the `client`) is an approved device; she is not signed in."""
    full_login(client, world.worker, phone)
    approve_pending(world.worker, world.supervisor)
    client.post("/accounts/logout/")
    return client


def test_only_the_sha256_of_the_token_is_stored(world, client, phone):  # noqa: F811
    response = full_login(client, world.worker, phone)
    token = _token(response.cookies[NAME].value)
    device = RegisteredDevice.objects.get(user=world.worker)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert device.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = RegisteredDevice.objects.filter(pk=device.pk).values().get()
    assert [name for name, value in stored.items() if token in str(value)] == []
    assert [row for row in device.history.values() if token in str(row)] == []  # nor in its history


def test_the_cookie_is_secure_httponly_and_lax_when_debug_is_off(world, client, phone):  # noqa: F811
    assert settings.DEBUG is False  # the test settings are production's
    cookie = full_login(client, world.worker, phone).cookies[NAME]
    assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == settings.DEVICE_COOKIE_MAX_AGE


def _tampered(value: str, how: str) -> str:
    token, signature = value.rsplit(":", 1)
    flip = {"A": "B"}.get(token[0], "A")
    return {
        "token-changed": f"{flip}{token[1:]}:{signature}",
        "signature-changed": f"{token}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        "unsigned": token,
        "signature-only": signature,
    }[how]


@pytest.mark.parametrize("how", ["token-changed", "signature-changed", "unsigned", "signature-only"])
def test_a_tampered_cookie_is_no_approved_device(world, approved, phone, how):  # noqa: F811
    client = approved
    approved_device = RegisteredDevice.objects.get(user=world.worker, status="approved")
    client.cookies[NAME] = _tampered(client.cookies[NAME].value, how)
    with later(31):
        response = full_login(client, world.worker, phone)
    assert response.status_code == 403  # a new browser: it waits for the supervisor
    assert signed_in_as(client) is None and not UserSession.objects.filter(user=world.worker).exists()
    pending = RegisteredDevice.objects.get(user=world.worker, status="pending")
    assert pending.pk != approved_device.pk and pending.token_hash != approved_device.token_hash


@pytest.mark.parametrize("how", ["token-changed", "signature-changed", "unsigned"])
def test_a_signed_in_session_ends_when_its_cookie_is_tampered(world, approved, phone, how):  # noqa: F811
    client = approved
    with later(31):
        full_login(client, world.worker, phone)
        assert signed_in_as(client) == "asha"
        client.cookies[NAME] = _tampered(client.cookies[NAME].value, how)
        assert client.get("/").status_code == 302
    assert not UserSession.objects.filter(user=world.worker).exists()
    ended = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.SESSIONS_ENDED).first()
    assert ended.data["reason"] == "device"


def test_another_accounts_approved_cookie_is_no_device_of_yours(world, client, phone):  # noqa: F811
    ravis_browser = Client()
    ravis_phone = TOTPDevice.objects.create(user=world.colleague, name="app", confirmed=True)
    full_login(ravis_browser, world.colleague, ravis_phone)
    ravis = approve_pending(world.colleague, world.supervisor)
    client.cookies[NAME] = ravis_browser.cookies[NAME].value  # a valid signature over ravi's approved token

    response = full_login(client, world.worker, phone)

    assert response.status_code == 403 and signed_in_as(client) is None
    mine = RegisteredDevice.objects.get(user=world.worker)
    assert mine.status == "pending" and mine.token_hash == ravis.token_hash  # the same browser, asha's own row
    ravis.refresh_from_db()
    assert ravis.user_id == world.colleague.pk and ravis.status == "approved"
    assert not UserSession.objects.filter(user=world.worker).exists()
