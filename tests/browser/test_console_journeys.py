"""Supervisor journeys through the console in real Chromium (issue 7): reinstating a worker with a fresh
one-time code, then reading who did it and why in her history; switching the console to Hindi for good;
approving a worker's device with a fresh code, then reading the device's history.

The supervisor's session is the one a login creates (tests.conftest.sign_in, copied into Chromium as
cookies; his login is tested in test_login_device_approval.py), signed in ten minutes ago so that the
console asks for a fresh code before acting on another account. The code is typed on the action's own
page beside the reason (issue 15), from the authenticator the session was opened with.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.login.session import AUTH_AT_KEY
from accounts.models import RegisteredDevice, Status, User
from accounts.services.devices import device_register, device_token_new
from accounts.services.lifecycle import user_suspend
from tests.browser.conftest import cookies_give
from tests.browser.test_login_device_approval import fresh_totp, watch_csp
from tests.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def shoot(page, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def console_signed_in_earlier(new_context, base_url: str, user, *, minutes: int = 10):
    """A Chromium page holding `user`'s console session, its one-time code proven `minutes` ago."""
    client = Client()
    sign_in(client, user)
    session = client.session
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session.save()
    context = new_context()
    cookies_give(context, base_url, {c.key: c.value for c in client.cookies.values()})
    return context.new_page()


def run_action(console, *, row_text: str, action: str) -> None:
    """Tick the row that shows `row_text`, choose `action` and press Go."""
    row = console.locator("#result_list tbody tr", has_text=row_text)
    expect(row).to_have_count(1)
    row.locator("input[name=_selected_action]").check()
    console.select_option("select[name=action]", action)
    console.locator("button[name=index]").click()


def type_code(console, user) -> None:
    """On the action's page: a fresh code from the authenticator app, beside the reason."""
    expect(console.locator("fieldset.step-up-code")).to_contain_text("Confirm it is you")
    console.select_option("select[name=method]", "totp")
    console.fill("input[name=token]", fresh_totp(TOTPDevice.objects.get(user=user, confirmed=True)))


def named_supervisor(world):
    world.supervisor.first_name, world.supervisor.last_name = "Ramesh", "Verma"
    world.supervisor.preferred_language = "en"
    world.supervisor.save(update_fields=["first_name", "last_name", "preferred_language"])
    return world.supervisor


def test_reinstate_after_a_fresh_code_then_read_who_and_why(world, live_server, new_context):
    base, violations = live_server.url, []
    supervisor = named_supervisor(world)
    user_suspend(user=world.worker, acting_user=supervisor, reason="phone reported lost")
    console = console_signed_in_earlier(new_context, base, supervisor)
    watch_csp(console, violations)

    # 1-2. The action asks for the reason and a fresh code on one page, the selection kept, then reinstates.
    console.goto(f"{base}/admin/accounts/user/?status__exact=suspended")
    run_action(console, row_text=world.worker.username, action="reinstate")
    expect(console.get_by_role("heading", name="Reinstate selected accounts")).to_be_visible()
    expect(console.locator("#content")).to_contain_text(world.worker.username)
    console.fill("textarea[name=reason]", "Phone found; she signed the device register again")
    type_code(console, supervisor)
    console.locator("input[name=apply]").click()
    expect(console.locator("ul.messagelist li.success")).to_contain_text("1 account reinstated.")
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE

    # 3. Her history says when, who and why, field by field.
    console.goto(f"{base}/admin/accounts/user/{world.worker.pk}/change/")
    console.locator("#content").get_by_role("link", name="History").click()
    expect(console.get_by_role("heading", name=f"History of changes: {world.worker}")).to_be_visible()
    newest = console.locator("#change-history tbody tr").first
    expect(newest.locator(".who")).to_have_text(str(supervisor))
    expect(newest.locator(".reason")).to_have_text("Phone found; she signed the device register again")
    expect(newest.locator(".changes")).to_contain_text("Status: Suspended → Active")
    expect(newest.locator(".changes")).to_contain_text("Suspension cause: Suspended by a supervisor → —")
    expect(console.locator("#change-history tbody tr").nth(1).locator(".reason")).to_have_text("phone reported lost")
    shoot(console, "console-reinstated-history")

    # 4. The same page in Hindi: field names and choice labels in the viewer's language.
    console.select_option("#console-language", "hi")
    console.locator("#language-form button").click()
    newest = console.locator("#change-history tbody tr").first
    expect(newest.locator(".changes")).to_contain_text("स्थिति: निलंबित → सक्रिय")
    expect(console.locator("#content h1")).to_contain_text("परिवर्तन इतिहास")
    shoot(console, "console-reinstated-history-hindi")
    assert violations == []


def test_the_console_switches_to_hindi_and_stays_in_hindi(world, live_server, new_context):
    base, violations = live_server.url, []
    supervisor = named_supervisor(world)
    console = console_signed_in_earlier(new_context, base, supervisor, minutes=0)
    watch_csp(console, violations)

    console.goto(f"{base}/admin/")
    expect(console.locator("section.dashboard")).to_contain_text("Nothing waiting.")
    console.select_option("#console-language", "hi")
    console.locator("#language-form button").click()
    console.wait_for_url(f"{base}/admin/")
    expect(console.locator("html")).to_have_attribute("lang", "hi")
    expect(console.locator("section.dashboard")).to_contain_text("कुछ भी प्रतीक्षा में नहीं है।")
    expect(console.locator("section.dashboard")).to_contain_text("खुली चेतावनियाँ")
    expect(console.locator("#site-name")).to_contain_text("पर्यवेक्षक कंसोल")

    # The next page load, and the next page, are in Hindi too; the account keeps the choice.
    console.reload()
    expect(console.locator("section.dashboard")).to_contain_text("कुछ भी प्रतीक्षा में नहीं है।")
    console.goto(f"{base}/admin/accounts/user/")
    expect(console.locator("#content h1")).to_contain_text("खाता")
    console.goto(f"{base}/admin/")
    expect(console.locator("#console-language")).to_have_value("hi")
    assert User.objects.get(pk=supervisor.pk).preferred_language == "hi"
    shoot(console, "console-dashboard-hindi")
    assert violations == []


def test_approve_a_device_after_a_fresh_code_then_read_its_history(world, live_server, new_context):
    base, violations = live_server.url, []
    supervisor = named_supervisor(world)
    pending = device_register(
        user=world.worker,
        token=device_token_new(),
        ip="10.0.0.7",
        user_agent="Mozilla/5.0 (Linux; Android 13; SM-A135F) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
    )
    console = console_signed_in_earlier(new_context, base, supervisor)
    watch_csp(console, violations)

    console.goto(f"{base}/admin/")
    console.locator("section.dashboard li.todo-devices a", has_text="1 device waiting for approval").click()
    run_action(console, row_text=pending.code, action="approve_device")
    expect(console.get_by_role("heading", name="Approve selected devices")).to_be_visible()
    console.fill("textarea[name=reason]", "Asha read the code on the phone; her own handset")
    type_code(console, supervisor)
    console.locator("input[name=apply]").click()
    expect(console.locator("ul.messagelist li.success")).to_have_text("1 device approved.")
    pending.refresh_from_db()
    assert pending.status == RegisteredDevice.Status.APPROVED and pending.decided_by == supervisor

    console.goto(f"{base}/admin/accounts/registereddevice/{pending.pk}/history/")
    newest = console.locator("#change-history tbody tr").first
    expect(newest.locator(".who")).to_have_text(str(supervisor))
    expect(newest.locator(".reason")).to_have_text("Asha read the code on the phone; her own handset")
    expect(newest.locator(".changes")).to_contain_text("Status: Pending approval → Approved")
    expect(newest.locator(".changes")).to_contain_text(f"Decided by: — → {supervisor}")
    shoot(console, "console-device-approved-history")
    assert violations == []
