"""Passkeys in the login flow and inside a session, through real HTTP posts (a software authenticator)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccountEvent, AccountEventType, Alert, RegisteredDevice, User, UserSession
from accounts.services.otp import otp_verify
from accounts.services.passkeys import passkey_revoke
from accounts.services.passwords import password_reset_link
from accounts.session_store import SESSION_PASSKEY_KEY
from tests.accounts.test_login_flow import approve_pending, full_login, later, post_code, post_password, totp_now
from tests.conftest import sign_in
from tests.passkey_authenticator import SoftAuthenticator, register

OPTIONS, PASSKEY = "/accounts/login/passkey/options/", "/accounts/login/passkey/"


def approved_browser(client, user, governor):
    """`client` is an approved device of `user`, signed out; return the user's authenticator app."""
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    full_login(client, user, app)
    approve_pending(user, governor)
    client.post("/accounts/logout/")
    return app


def passkey_step(client, authenticator: SoftAuthenticator, **answer):
    options = client.post(OPTIONS)
    assert options.status_code == 200
    return client.post(PASSKEY, {"credential": authenticator.get(json.loads(options.content), **answer)})


def signed_in(client) -> str | None:
    response = client.get("/")
    return response.context["user"].username if response.status_code == 200 else None


@pytest.mark.django_db
def test_a_passkey_stands_in_for_the_code(world, client):
    approved_browser(client, world.worker, world.supervisor)
    passkey, authenticator = register(world.worker)
    with later(31):
        assert post_password(client, "asha").status_code == 302
        page = client.get("/accounts/login/code/")
        assert b"Sign in with your passkey" in page.content and b"Verify" in page.content  # codes stay for workers
        response = passkey_step(client, authenticator)
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(client) == "asha"
    assert client.session[SESSION_PASSKEY_KEY] == passkey.pk
    assert UserSession.objects.get(user=world.worker).passkey_id == passkey.pk
    event = AccountEvent.objects.filter(type=AccountEventType.LOGIN_SUCCEEDED).latest("pk")
    assert event.data["otp"] == "WebAuthnCredential"


@pytest.mark.django_db
def test_a_passkey_never_stands_in_for_the_approved_device(world, client):
    _, authenticator = register(world.worker)
    assert post_password(client, "asha").status_code == 302
    response = passkey_step(client, authenticator)
    assert response.status_code == 403
    assert RegisteredDevice.objects.get(user=world.worker).status == "pending"
    assert signed_in(client) is None


@pytest.mark.django_db
def test_a_passkey_of_another_origin_is_refused_and_counted(world, client):
    approved_browser(client, world.worker, world.supervisor)
    _, authenticator = register(world.worker)
    with later(31):
        post_password(client, "asha")
        response = passkey_step(client, authenticator, origin="https://prahari.example.evil")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert signed_in(client) is None
    assert AccountEvent.objects.filter(type=AccountEventType.OTP_FAILED, subject=world.worker).exists()


@pytest.mark.django_db
def test_a_cloned_passkey_is_refused_at_sign_in_and_alerted(world, client):
    approved_browser(client, world.supervisor, world.state_admin)
    passkey, authenticator = register(world.supervisor)
    with later(31):
        post_password(client, "dio.lucknow")
        assert passkey_step(client, authenticator, sign_count=7).status_code == 302
    client.post("/accounts/logout/")
    post_password(client, "dio.lucknow")
    response = passkey_step(client, authenticator, sign_count=2)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert signed_in(client) is None
    assert Alert.objects.filter(rule="passkey_clone", subject=world.supervisor).count() == 1
    passkey.refresh_from_db()
    assert not passkey.confirmed


@pytest.mark.django_db
def test_a_required_role_with_a_passkey_may_not_use_a_code(world, client):
    app = approved_browser(client, world.supervisor, world.state_admin)
    register(world.supervisor)
    with later(31):
        post_password(client, "dio.lucknow")
        page = client.get("/accounts/login/code/")
        assert b"passkey only" in page.content and b'name="token"' not in page.content
        response = post_code(client, totp_now(app))
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert signed_in(client) is None
    assert not UserSession.objects.filter(user=world.supervisor).exists()


@pytest.mark.django_db
def test_past_the_deadline_the_console_refuses_a_required_role_without_a_passkey(world, client, settings):
    settings.PRAHARI_PASSKEY_DEADLINE = (timezone.localdate() - timedelta(days=1)).isoformat()
    sign_in(client, world.supervisor)
    response = client.get("/admin/")
    assert response.status_code == 403
    assert b"Register a passkey to open the console" in response.content
    assert client.get("/accounts/security/").status_code == 200  # where they register one stays open
    register(world.supervisor)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_before_the_deadline_the_console_stays_open(world, client, settings):
    settings.PRAHARI_PASSKEY_DEADLINE = (timezone.localdate() + timedelta(days=30)).isoformat()
    sign_in(client, world.supervisor)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_registering_needs_a_fresh_sign_in(world, client):
    sign_in(client, world.worker)
    assert client.post("/accounts/security/passkeys/options/").status_code == 200
    session = client.session
    session["_prahari_auth_at"] = (timezone.now() - timedelta(minutes=30)).isoformat()
    session["_prahari_seen_at"] = timezone.now().isoformat()
    session.save()
    refused = client.post("/accounts/security/passkeys/options/")
    assert refused.status_code == 403 and "sign in again" in refused.json()["error"]


@pytest.mark.django_db
def test_registering_through_the_security_page(world, client):
    sign_in(client, world.worker)
    authenticator = SoftAuthenticator()
    options = client.post("/accounts/security/passkeys/options/").json()
    response = client.post(
        "/accounts/security/passkeys/", {"credential": authenticator.create(options), "name": "Work phone"}
    )
    assert response.status_code == 302
    page = client.get("/accounts/security/")
    assert b"Work phone" in page.content and b"Passkey registered" in page.content


@pytest.mark.django_db
def test_step_up_for_a_required_role_uses_the_passkey(world, client):
    sign_in(client, world.supervisor)
    _, authenticator = register(world.supervisor)
    session = client.session
    session["_prahari_auth_at"] = (timezone.now() - timedelta(minutes=10)).isoformat()
    session.save()
    action = f"/admin/accounts/user/{world.worker.pk}/act/suspend/"
    app = TOTPDevice.objects.get(user=world.supervisor)
    response = client.post(action, {"reason": "on leave", "method": "totp", "token": totp_now(app)})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/step-up/")
    world.worker.refresh_from_db()
    assert world.worker.status == "active"  # no code was read: nothing applied
    page = client.get(response["Location"])
    assert b"Confirm with your passkey" in page.content and b'name="token"' not in page.content
    options = client.post("/accounts/step-up/passkey/options/").json()
    proven = client.post(f"/accounts/step-up/passkey/?next={action}", {"credential": authenticator.get(options)})
    assert proven.status_code == 302 and proven["Location"] == action
    assert AccountEvent.objects.filter(type=AccountEventType.STEP_UP_SUCCEEDED, subject=world.supervisor).exists()
    done = client.post(action, {"reason": "on leave"})
    assert done.status_code == 302
    world.worker.refresh_from_db()
    assert world.worker.status == "suspended"


@pytest.mark.django_db
def test_re_confirmation_for_a_required_role_takes_the_passkey_not_a_code(world, client):
    from governance.reviews import review_attest

    sign_in(client, world.supervisor)
    _, authenticator = register(world.supervisor)
    session = client.session
    session["_prahari_auth_at"] = (timezone.now() - timedelta(minutes=10)).isoformat()
    session.save()
    review_attest(user=world.supervisor, acting_user=world.state_admin, reason="still the DIO")
    reconfirm = "/accounts/reconfirm/"
    page = client.get(reconfirm)
    assert b"Confirm with your passkey" in page.content and b'name="token"' not in page.content
    app = TOTPDevice.objects.get(user=world.supervisor)
    refused = client.post(reconfirm, {"accept": "on", "version": 1, "method": "totp", "token": totp_now(app)})
    assert refused.status_code == 302
    world.supervisor.refresh_from_db()
    assert world.supervisor.reconfirm_pending is True  # a code proves nothing for this account
    options = client.post("/accounts/step-up/passkey/options/").json()
    proven = client.post(f"/accounts/step-up/passkey/?next={reconfirm}", {"credential": authenticator.get(options)})
    assert proven.status_code == 302 and proven["Location"] == reconfirm
    assert client.post(reconfirm, {"accept": "on", "version": 1}).status_code == 302
    world.supervisor.refresh_from_db()
    assert world.supervisor.reconfirm_pending is False


def _reset(client, path: str, app: TOTPDevice):
    new = "a quiet river at dawn"
    return client.post(path, {"new_password1": new, "new_password2": new, "method": "totp", "token": totp_now(app)})


@pytest.mark.django_db
def test_a_required_role_with_a_passkey_cannot_reset_the_password_with_a_code(world, client):
    app = TOTPDevice.objects.create(user=world.supervisor, name="app", confirmed=True)
    passkey, _authenticator = register(world.supervisor)
    path = urlsplit(password_reset_link(user=world.supervisor, base_url="http://testserver")).path
    before = User.objects.get(pk=world.supervisor.pk).password

    page = client.get(path)
    assert page.status_code == 403 and b"withdraw the passkey" in page.content
    assert _reset(client, path, app).status_code == 403
    assert User.objects.get(pk=world.supervisor.pk).password == before

    passkey_revoke(passkey=passkey, acting_user=world.state_admin, reason="lost with the phone")
    with later(31):  # the next TOTP step: the code above was not used, but a new one is needed anyway
        assert _reset(client, path, app).status_code == 302  # the governor's withdrawal opens the reset again
    assert User.objects.get(pk=world.supervisor.pk).password != before


@pytest.mark.django_db
def test_no_code_verifies_for_a_required_role_with_a_passkey(world):
    app = TOTPDevice.objects.create(user=world.supervisor, name="app", confirmed=True)
    register(world.supervisor)
    assert otp_verify(user=world.supervisor, method="totp", token=totp_now(app), attempt_id="a") is None
    worker_app = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    register(world.worker)  # a worker's passkey stands beside the codes, not in their place
    assert otp_verify(user=world.worker, method="totp", token=totp_now(worker_app), attempt_id="a") == worker_app
