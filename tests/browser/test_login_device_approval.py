"""A new device end to end in real Chromium: a worker's browser waits, her supervisor approves it in the console.

Two browsers (contexts), two people, the real login pages with real TOTP codes: nothing is forced.
The only shortcut is that the supervisor's own browser is approved by the state admin through the
service, since that approval is not what this test is about.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import RegisteredDevice
from accounts.services.devices import device_approve
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's password
# django-otp accepts a step only once (`last_t`); the server's clock is real, so a second login of the
# same person may have to wait for the next 30-second step: never longer than one step plus slack.
STEP_WAIT_LIMIT = 35


def fresh_totp(device: TOTPDevice) -> str:
    """The code for the current step, after waiting (≤ 35 s) until the step is newer than the last one used."""
    deadline = time.monotonic() + STEP_WAIT_LIMIT
    while True:
        device.refresh_from_db()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        if totp.t() > device.last_t:
            return f"{totp.token():0{device.digits}d}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no new TOTP step within {STEP_WAIT_LIMIT} s")
        time.sleep(0.25)


def log_in(page, base_url: str, username: str, otp_device: TOTPDevice):
    """Password page, then the code page with the authenticator method; returns the final response."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(f"{base_url}/accounts/login/code/")
    page.select_option("select[name=method]", "totp")
    page.fill("input[name=token]", fresh_totp(otp_device))
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Verify").click()
    return navigation.value


def watch_csp(page, violations: list[str]) -> None:
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)


def test_worker_device_is_approved_in_the_console_then_she_gets_in(world, live_server, page, new_context, screenshot):
    base = live_server.url
    # The factories name everyone "Asha …": give the supervisor his own name so the screenshots read well.
    world.supervisor.first_name, world.supervisor.last_name = "Ramesh", "Verma"
    world.supervisor.save(update_fields=["first_name", "last_name"])
    worker_totp = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    supervisor_totp = TOTPDevice.objects.create(user=world.supervisor, name="app", confirmed=True)
    violations: list[str] = []
    watch_csp(page, violations)

    # 1. The worker's first login from this browser: password and code are right, the device waits.
    response = log_in(page, base, world.worker.username, worker_totp)
    assert response.status == 403
    pending = RegisteredDevice.objects.get(user=world.worker)
    assert pending.status == RegisteredDevice.Status.PENDING
    code = page.locator("#device-code").inner_text().strip()
    assert code == pending.code
    expect(page.get_by_role("heading", name="This device is waiting for approval")).to_be_visible()
    assert any(c["name"] == settings.DEVICE_COOKIE_NAME and c["httpOnly"] for c in page.context.cookies())
    screenshot("device-pending")

    # 2. The supervisor, in a browser of his own: first login leaves his device pending too; the state
    #    admin approves it (service); then he logs in for real and opens the console.
    console = new_context().new_page()
    watch_csp(console, violations)
    assert log_in(console, base, world.supervisor.username, supervisor_totp).status == 403
    own = RegisteredDevice.objects.get(user=world.supervisor, status=RegisteredDevice.Status.PENDING)
    assert console.locator("#device-code").inner_text().strip() == own.code
    device_approve(device=own, acting_user=world.state_admin, reason="supervisor's office PC, code read by phone")
    response = log_in(console, base, world.supervisor.username, supervisor_totp)
    assert response.status == 200 and console.url == f"{base}/"

    console.goto(f"{base}/admin/accounts/registereddevice/")
    assert console.url == f"{base}/admin/accounts/registereddevice/"
    row = console.locator("#result_list tbody tr", has_text=code)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Pending approval")
    expect(row).to_contain_text(f"({world.worker.username})")
    console.screenshot(path=str(SCREENSHOTS / "console-devices.png"), full_page=True)
    row.locator("input[name=_selected_action]").check()
    console.select_option("select[name=action]", "approve_device")
    console.locator("button[name=index]").click()

    # The action asks for the reason on an intermediate page, then applies.
    expect(console.get_by_role("heading", name="Approve selected devices")).to_be_visible()
    expect(console.locator("#content")).to_contain_text(code)
    console.screenshot(path=str(SCREENSHOTS / "console-approve-reason.png"), full_page=True)
    console.fill("textarea[name=reason]", "Asha read the code on the phone")
    console.locator("input[name=apply]").click()
    expect(console.locator("ul.messagelist li.success")).to_have_text("1 device approved.")
    pending.refresh_from_db()
    assert pending.status == RegisteredDevice.Status.APPROVED
    assert pending.decided_by == world.supervisor
    assert pending.decision_reason == "Asha read the code on the phone"
    expect(console.locator("#result_list tbody tr", has_text=code)).to_contain_text("Approved")
    console.screenshot(path=str(SCREENSHOTS / "console-devices-approved.png"), full_page=True)

    # 3. The worker signs in again from the same browser (a later code) and reaches her home page.
    page.get_by_role("link", name="Sign in again").click()
    response = log_in(page, base, world.worker.username, worker_totp)
    assert response.status == 200 and page.url == f"{base}/"
    expect(page.get_by_text("Namaste")).to_be_visible()
    expect(page.get_by_role("heading", name="Find a record")).to_be_visible()
    screenshot("worker-home")
    page.locator("#my-account").get_by_role("link", name="Sessions, devices and sign-in").click()
    devices = page.locator(".card", has=page.get_by_role("heading", name="Your devices"))
    device_row = devices.locator("tr", has_text=code)
    expect(device_row).to_have_count(1)
    expect(device_row.locator(".badge.approved", has_text="Approved")).to_have_count(1)
    expect(device_row).to_contain_text("this device")
    screenshot("worker-my-account")
    assert violations == []
