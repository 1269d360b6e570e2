"""Passkeys end to end in real Chromium, with its virtual authenticator (the DevTools WebAuthn domain).

The browser makes and uses the passkeys itself (keys, signatures, sign counts); the page's own JavaScript
(accounts/static/accounts/passkeys.js) carries them. The only shortcut: the browser starts as an approved device
of the account (its device cookie set here), since device approval is not what these journeys are about.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from accounts.login.device_cookie import SALT
from accounts.models import AccountEvent, AccountEventType, Alert, RegisteredDevice, UserSession
from accounts.services.devices import device_token_hash, device_token_new
from tests.browser.conftest import cookies_give
from tests.browser.test_login_device_approval import PASSWORD, fresh_totp, watch_csp

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture
def origin(live_server, settings):
    """The live server's origin is the one the relying party trusts (RP ID `localhost`)."""
    assert live_server.url.startswith("http://localhost:"), live_server.url
    settings.PRAHARI_WEBAUTHN_RP_ID = "localhost"
    settings.PRAHARI_WEBAUTHN_ORIGINS = [live_server.url]
    return live_server.url


class VirtualAuthenticators:
    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")

    def add(self) -> str:
        return self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]

    def remove(self, authenticator: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})

    def credentials(self, authenticator: str) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]

    def add_credential(self, authenticator: str, credential: dict) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": credential})


def approved_browser(page, base: str, user) -> None:
    """Make `page`'s browser an approved device of `user` (its signed device cookie)."""
    token = device_token_new()
    RegisteredDevice.objects.create(
        user=user, token_hash=device_token_hash(token), code=token[:8].upper(), status="approved"
    )
    name = django_settings.DEVICE_COOKIE_NAME
    value = signing.get_cookie_signer(salt=name + SALT).sign(token)
    cookies_give(page.context, base, {name: value})


def password_step(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(f"{base}/accounts/login/code/")


def sign_in_with_code(page, base: str, user, app: TOTPDevice) -> None:
    password_step(page, base, user.username)
    page.select_option("select[name=method]", "totp")
    page.fill("input[name=token]", fresh_totp(app))
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()


def sign_in_with_passkey(page, base: str, username: str):
    password_step(page, base, username)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in with your passkey").click()
    return navigation.value


def add_passkey(page, base: str, name: str) -> None:
    page.goto(f"{base}/accounts/security/#passkeys")
    page.fill("input[name=name]", name)
    with page.expect_navigation():
        page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkeys")).to_contain_text(name)


def log_out(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()


def test_register_sign_in_second_passkey_and_revoke(world, origin, page, screenshot):
    base, worker = origin, world.worker
    app = TOTPDevice.objects.create(user=worker, name="app", confirmed=True)
    approved_browser(page, base, worker)
    violations: list[str] = []
    watch_csp(page, violations)
    authenticators = VirtualAuthenticators(page)
    first = authenticators.add()

    # 1. Signed in with a code, she registers a passkey on her security page.
    sign_in_with_code(page, base, worker, app)
    add_passkey(page, base, "Asha's phone")
    expect(page.get_by_text("Your passkey is registered")).to_be_visible()
    screenshot("passkey-registered")
    phone = WebAuthnCredential.objects.get(user=worker)
    assert phone.confirmed and phone.name == "Asha's phone"
    assert len(authenticators.credentials(first)) == 1

    # 2. Next time the passkey stands in for the code.
    log_out(page)
    response = sign_in_with_passkey(page, base, worker.username)
    assert response.status == 200 and page.url == f"{base}/"
    opened = UserSession.objects.get(user=worker)
    assert opened.passkey_id == phone.pk

    # 3. A second passkey, on a second authenticator (a security key).
    authenticators.remove(first)
    second = authenticators.add()
    add_passkey(page, base, "Security key")
    key = WebAuthnCredential.objects.get(user=worker, name="Security key")
    assert WebAuthnCredential.objects.filter(user=worker, confirmed=True).count() == 2

    # 4. Withdrawing the phone's passkey ends the session it opened: this one.
    page.goto(f"{base}/accounts/security/#passkeys")
    row = page.locator(f"[data-passkey-row='{phone.pk}']")
    with page.expect_navigation():
        row.get_by_role("button", name="Withdraw").click()
    phone.refresh_from_db()
    assert not phone.confirmed
    assert not UserSession.objects.filter(pk=opened.pk).exists()
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    revoked = AccountEvent.objects.get(type=AccountEventType.PASSKEY_REVOKED)
    assert revoked.data["sessions_ended"] == 1

    # 5. The security key still signs her in.
    response = sign_in_with_passkey(page, base, worker.username)
    assert page.url == f"{base}/"
    assert UserSession.objects.get(user=worker).passkey_id == key.pk
    assert len(authenticators.credentials(second)) == 1
    assert violations == []


def test_a_passkey_answering_for_another_origin_is_refused(world, origin, page, settings):
    worker = world.worker
    app = TOTPDevice.objects.create(user=worker, name="app", confirmed=True)
    approved_browser(page, origin, worker)
    VirtualAuthenticators(page).add()
    sign_in_with_code(page, origin, worker, app)
    add_passkey(page, origin, "Asha's phone")
    log_out(page)
    # The relying party now trusts only its real address: this page's origin is a look-alike's.
    settings.PRAHARI_WEBAUTHN_ORIGINS = ["https://prahari.example.gov.in"]
    sign_in_with_passkey(page, origin, worker.username)
    assert page.url == f"{origin}/accounts/login/code/"
    expect(page.get_by_text("The passkey was not accepted")).to_be_visible()
    assert not UserSession.objects.filter(user=worker).exists()
    assert AccountEvent.objects.filter(type=AccountEventType.OTP_FAILED, subject=worker).exists()


def test_a_cloned_authenticator_is_refused_and_alerted(world, origin, page, screenshot):
    supervisor = world.supervisor
    app = TOTPDevice.objects.create(user=supervisor, name="app", confirmed=True)
    approved_browser(page, origin, supervisor)
    authenticators = VirtualAuthenticators(page)
    original = authenticators.add()
    sign_in_with_code(page, origin, supervisor, app)
    add_passkey(page, origin, "Office key")
    log_out(page)
    sign_in_with_passkey(page, origin, supervisor.username)  # the count moves on
    assert page.url == f"{origin}/"
    log_out(page)
    passkey = WebAuthnCredential.objects.get(user=supervisor)
    assert passkey.sign_count >= 1

    # The key's copy: the same credential and private key, its counter behind the original's.
    stolen = authenticators.credentials(original)[0]
    authenticators.remove(original)
    copy = authenticators.add()
    authenticators.add_credential(copy, {**stolen, "signCount": 0})
    sign_in_with_passkey(page, origin, supervisor.username)
    assert page.url == f"{origin}/accounts/login/"
    expect(page.get_by_text("it looks copied")).to_be_visible()
    screenshot("passkey-clone-refused")
    passkey.refresh_from_db()
    assert not passkey.confirmed
    alert = Alert.objects.get(rule="passkey_clone", subject=supervisor)
    assert alert.severity == Alert.Severity.HIGH
    assert not UserSession.objects.filter(user=supervisor).exists()
