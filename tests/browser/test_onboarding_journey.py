"""Onboarding end to end in real Chromium: a supervisor invites, the worker enrols from the link in her
own browser (authenticator app, first device, undertaking), the supervisor approves, she logs in.

The supervisor's own console session is the one a login creates (tests.conftest.sign_in, copied into
Chromium as cookies): his login is tested elsewhere. Everything the worker does goes through the
real pages, with real TOTP codes.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import Notification, RegisteredDevice, Status, User
from tests.browser.conftest import SCREENSHOTS, cookies_give
from tests.browser.test_login_device_approval import fresh_totp, watch_csp
from tests.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "monsoon ledger 7 lanterns"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def console_for(new_context, base_url: str, user):
    client = Client()
    sign_in(client, user)
    context = new_context()
    cookies_give(context, base_url, {c.key: c.value for c in client.cookies.values()})
    return context.new_page()


def test_invite_enrol_approve_and_log_in(world, live_server, new_context):
    base = live_server.url
    violations: list[str] = []
    world.supervisor.first_name, world.supervisor.last_name = "Ramesh", "Verma"
    world.supervisor.save(update_fields=["first_name", "last_name"])

    # 1. The supervisor invites Sunita from the console.
    console = console_for(new_context, base, world.supervisor)
    watch_csp(console, violations)
    console.goto(f"{base}/admin/accounts/user/")
    console.get_by_role("link", name="Invite an account").click()
    console.get_by_label("First name").fill("Sunita")
    console.get_by_label("Last name").fill("Devi")
    console.get_by_label("Mobile number").fill("98765 43210")
    console.select_option("select[name=role]", "worker")
    console.select_option("select[name=facility]", str(world.facility.pk))
    console.get_by_role("button", name="Send the invitation").click()
    expect(console.locator("ul.messagelist li.success")).to_contain_text("Invitation sent to sunita.devi")
    sunita = User.objects.get(username="sunita.devi")
    assert sunita.status == Status.INVITED
    link = Notification.objects.get(user=sunita, kind="invitation", channel="sms").context["url"]

    # 2. Sunita opens the link on her phone, sets a password, scans the code, accepts the undertaking.
    phone = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True).new_page()
    watch_csp(phone, violations)
    phone.goto(link)
    expect(phone.get_by_role("heading", name="Set up your account")).to_be_visible()
    phone.get_by_label("Choose a password").fill(PASSWORD)
    phone.get_by_label("The same password again").fill(PASSWORD)
    app = TOTPDevice.objects.get(user=sunita, confirmed=False)
    phone.get_by_label("One-time code").fill(fresh_totp(app))
    phone.get_by_label("I have read the data-use undertaking and I accept it.").check()
    shoot(phone, "onboarding-enrol-form")
    phone.get_by_role("button", name="Finish").click()
    expect(phone.get_by_role("heading", name="Your account is set up")).to_be_visible()
    code = phone.locator("#device-code").inner_text().strip()
    assert RegisteredDevice.objects.get(user=sunita).code == code
    shoot(phone, "onboarding-enrolled")

    # 3. The supervisor approves the enrolment (reason page), which approves her first device too.
    console.goto(f"{base}/admin/accounts/user/?status__exact=pending_approval")
    row = console.locator("#result_list tbody tr", has_text="sunita.devi")
    expect(row).to_have_count(1)
    row.locator("input[name=_selected_action]").check()
    console.select_option("select[name=action]", "approve_onboarding")
    console.locator("button[name=index]").click()
    console.fill("textarea[name=reason]", "Sunita read device code by phone; on the PHC staff list")
    console.locator("input[name=apply]").click()
    expect(console.locator("ul.messagelist li.success")).to_contain_text("1 account approved.")
    shoot(console, "onboarding-approved")
    sunita.refresh_from_db()
    assert sunita.status == Status.ACTIVE
    assert RegisteredDevice.objects.get(user=sunita).status == RegisteredDevice.Status.APPROVED

    # 4. Sunita logs in on the same phone (a later code) and reaches her home page.
    phone.goto(f"{base}/accounts/login/")
    phone.fill("input[name=username]", "sunita.devi")
    phone.fill("input[name=password]", PASSWORD)
    phone.get_by_role("button", name="Next").click()
    phone.select_option("select[name=method]", "totp")
    phone.fill("input[name=token]", fresh_totp(TOTPDevice.objects.get(user=sunita, confirmed=True)))
    phone.get_by_role("button", name="Verify").click()
    expect(phone.locator(".greeting")).to_contain_text("Namaste")
    expect(phone.get_by_role("heading", name="Find a record")).to_be_visible()  # home opens on the search
    assert phone.url == f"{base}/"
    shoot(phone, "onboarding-worker-home")
    assert violations == []
