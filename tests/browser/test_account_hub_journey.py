"""The account page as the hub, in real Chromium (issue 15): a worker locks herself out with wrong passwords;
her supervisor opens her account page, reads "Locked until …", unlocks her from that page with the reason and
a fresh code on one page; she then signs in. At 1280×900 and 390×844, in English and in Hindi.

The supervisor's console session is a login's (tests.conftest.sign_in) whose code was proven ten minutes ago,
so the action asks a fresh one; the worker uses the real login pages from a browser her supervisor approved.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import AccountEvent, AccountEventType
from tests.browser.conftest import cookies_give
from tests.browser.test_console_journeys import console_signed_in_earlier, named_supervisor, shoot
from tests.browser.test_login_device_approval import fresh_totp, log_in, watch_csp
from tests.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def worker_browser(new_context, base_url: str, worker, size: str):
    """A browser holding only the cookie of a device approved for `worker` (no session): she signs in herself."""
    client = Client()
    sign_in(client, worker)  # its session stays in the client: only the device cookie goes to the browser
    context = new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
    cookie = client.cookies[settings.DEVICE_COOKIE_NAME]
    cookies_give(context, base_url, {cookie.key: cookie.value})
    return context.new_page()


def wrong_passwords(page, base_url: str, username: str, times: int) -> None:
    for _ in range(times):
        page.goto(f"{base_url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "not the password, sorry")
        page.get_by_role("button", name="Next").click()
        expect(page.locator("body")).to_contain_text("Sign-in failed")


def fits(page, size: str) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]


@pytest.mark.parametrize("size", SIZES)
def test_a_supervisor_unlocks_a_locked_worker_from_her_account_page(world, live_server, new_context, size):
    base, violations = live_server.url, []
    supervisor = named_supervisor(world)
    worker = world.worker
    worker.first_name, worker.last_name, worker.mobile = "Dipta", "Subramanian", "+919415000100"
    worker.save(update_fields=["first_name", "last_name", "mobile"])

    # 1. The worker locks herself out: wrong passwords up to the limit; then even the right one fails.
    phone = worker_browser(new_context, base, worker, size)
    watch_csp(phone, violations)
    wrong_passwords(phone, base, worker.username, settings.AXES_FAILURE_LIMIT)
    assert AccountEvent.objects.filter(subject=worker, type=AccountEventType.LOCKED_OUT).exists()

    # 2. Her supervisor opens her account page: the lock in words, and the Unlock button.
    console = console_signed_in_earlier(new_context, base, supervisor)
    console.set_viewport_size(SIZES[size])
    watch_csp(console, violations)
    console.goto(f"{base}/admin/accounts/user/{worker.pk}/change/")
    expect(console.locator(".lock-words")).to_contain_text("Locked until")
    expect(console.locator(".lock-words")).to_contain_text(f"after {settings.AXES_FAILURE_LIMIT} failed sign-ins")
    expect(console.locator(".account-hub")).to_contain_text("+91******0100")
    expect(console.locator(".account-hub")).not_to_contain_text("Required. 150 characters")
    assert fits(console, size)
    shoot(console, f"account-hub-locked-{size}-en")

    # 3. The same page in Hindi.
    console.select_option("#console-language", "hi")
    console.locator("#language-form button").click()
    expect(console.locator("html")).to_have_attribute("lang", "hi")
    expect(console.locator(".lock-words")).to_contain_text("तक लॉक")
    assert fits(console, size)
    shoot(console, f"account-hub-locked-{size}-hi")

    # 4. Unlock: the reason and a fresh code on one page (in Hindi), then back on her page, unlocked.
    console.locator(".hub-actions").get_by_role("link", name="अनलॉक करें").click()
    expect(console.locator("textarea[name=reason]")).to_be_visible()
    expect(console.locator("input[name=token]")).to_be_visible()
    console.fill("textarea[name=reason]", "She called from the PHC; her own phone, she mistyped")
    expect(console.locator("fieldset.step-up-code")).to_be_visible()
    console.select_option("select[name=method]", "totp")
    assert fits(console, size)
    shoot(console, f"account-hub-unlock-{size}-hi")
    console.fill("input[name=token]", fresh_totp(TOTPDevice.objects.get(user=supervisor, confirmed=True)))
    console.locator(".account-action button[name=apply]").click()
    expect(console.locator("ul.messagelist li.success")).to_contain_text("अनलॉक है")
    expect(console.locator(".lock-words")).to_contain_text("लॉक नहीं है")
    shoot(console, f"account-hub-unlocked-{size}-hi")
    cleared = AccountEvent.objects.get(subject=worker, type=AccountEventType.LOCKOUT_CLEARED)
    assert cleared.actor == supervisor and cleared.reason.startswith("She called from the PHC")

    # 5. In English again, the page says so too.
    console.select_option("#console-language", "en")
    console.locator("#language-form button").click()
    expect(console.locator(".lock-words")).to_have_text("Not locked.")
    shoot(console, f"account-hub-unlocked-{size}-en")

    # 6. The worker signs in: password and code, and her home opens.
    response = log_in(phone, base, worker.username, TOTPDevice.objects.get(user=worker, confirmed=True))
    assert response.status == 200 and urlparse(phone.url).path == "/"
    assert violations == []
