"""Cookie names with the `__Host-` prefix when DEBUG is off (ASVS 5.0 V3.3.1), and the device cookie's move.

An approved browser holding the device cookie under its old name (`prahari_device`) stays approved: the cookie
is believed once more, moved to `__Host-prahari_device` on the next response and deleted under the old name.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.login.device_cookie import SALT
from accounts.models import RegisteredDevice, UserSession
from accounts.services.devices import device_token_hash, device_token_new
from tests.accounts.test_login_flow import full_login

OLD = "prahari_device"


def test_production_names_carry_the_host_prefix():
    assert not settings.DEBUG  # the test settings are production's
    assert settings.SESSION_COOKIE_NAME == "__Host-sessionid"
    assert settings.CSRF_COOKIE_NAME == "__Host-csrftoken"
    assert settings.DEVICE_COOKIE_NAME == "__Host-prahari_device"
    assert settings.LANGUAGE_COOKIE_NAME == "__Host-django_language"
    assert settings.DEVICE_COOKIE_OLD_NAMES == [OLD]
    # The prefix binds the browser only with Secure, Path=/ and no Domain.
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE and settings.LANGUAGE_COOKIE_SECURE
    assert settings.SESSION_COOKIE_PATH == settings.CSRF_COOKIE_PATH == "/"
    assert settings.SESSION_COOKIE_DOMAIN is None and settings.CSRF_COOKIE_DOMAIN is None


def _approved_device(user) -> str:
    token = device_token_new()
    RegisteredDevice.objects.create(user=user, token_hash=device_token_hash(token), code="OLDNAME1", status="approved")
    return token


def _old_cookie(token: str) -> str:
    return signing.get_cookie_signer(salt=OLD + SALT).sign(token)


@pytest.mark.django_db
def test_a_login_sets_every_cookie_under_its_prefixed_name(world):
    phone = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    client = Client()
    client.get("/accounts/login/")
    response = full_login(client, world.worker, phone)
    assert response.status_code == 403  # a new browser: the device waits for approval
    for name in (settings.CSRF_COOKIE_NAME, settings.DEVICE_COOKIE_NAME):
        assert name.startswith("__Host-") and name in client.cookies
        morsel = client.cookies[name]
        assert morsel["secure"] and morsel["path"] == "/" and not morsel["domain"]
    assert OLD not in client.cookies and "csrftoken" not in client.cookies


@pytest.mark.django_db
def test_an_approved_device_cookie_under_the_old_name_still_signs_in_and_moves(world):
    phone = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    token = _approved_device(world.worker)
    client = Client()
    client.cookies[OLD] = _old_cookie(token)
    response = full_login(client, world.worker, phone)
    assert response.status_code == 302 and response["Location"] == "/"
    assert RegisteredDevice.objects.filter(user=world.worker).count() == 1  # no new pending device
    assert UserSession.objects.filter(user=world.worker).count() == 1
    moved = client.cookies[settings.DEVICE_COOKIE_NAME]
    assert moved.value and moved["secure"] and moved["httponly"]
    assert client.cookies[OLD]["max-age"] == 0  # deleted under the old name
    assert client.get("/").status_code == 200  # the session guard believes the moved cookie


@pytest.mark.django_db
def test_any_request_moves_the_old_cookie_and_a_forged_one_is_dropped(world):
    token = _approved_device(world.worker)
    client = Client()
    client.cookies[OLD] = _old_cookie(token)
    response = client.get("/accounts/login/")
    assert response.cookies[settings.DEVICE_COOKIE_NAME].value
    assert response.cookies[OLD]["max-age"] == 0

    forged = Client()
    forged.cookies[OLD] = signing.get_cookie_signer(salt="another salt").sign(token)
    response = forged.get("/accounts/login/")
    assert settings.DEVICE_COOKIE_NAME not in response.cookies
    assert response.cookies[OLD]["max-age"] == 0
