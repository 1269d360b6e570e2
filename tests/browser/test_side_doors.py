"""The side doors, as the people on the other side of them see them (issue 13), in real Chromium.

A supervisor who follows an address with a filter the list does not declare gets a page saying so, in
her language, with the way back to the list; a worker who types wrong step-up codes until the account
locks is signed out and told to wait or call the supervisor.
"""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.test_console_journeys import console_signed_in_earlier, shoot
from tests.browser.test_login_device_approval import watch_csp

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_an_undeclared_filter_gets_a_page_that_says_so(world, live_server, new_context, width, height):
    violations: list[str] = []
    console = console_signed_in_earlier(new_context, live_server.url, world.supervisor, minutes=1)
    console.set_viewport_size({"width": width, "height": height})
    watch_csp(console, violations)
    console.goto(f"{live_server.url}/admin/records/beneficiary/?is_canary__exact=1")
    expect(console.locator("[role=alert]")).to_have_text("This list cannot be filtered by “is_canary__exact”.")
    shoot(console, f"console-undeclared-filter-{width}")
    console.get_by_role("link", name="Back to the list of beneficiaries").click()
    expect(console.locator("#result_list, p.paginator").first).to_be_visible()

    console.goto(f"{live_server.url}/admin/accounts/user/?username=asha&password__regex=%5Eargon")
    console.select_option("#console-language", "hi")
    console.locator("#language-form button").click()
    expect(console.locator("[role=alert]")).to_contain_text("फ़िल्टर नहीं किया जा सकता")
    shoot(console, f"console-undeclared-filter-{width}-hindi")
    assert violations == []


def test_wrong_step_up_codes_sign_the_worker_out_with_word_of_whom_to_call(world, live_server, new_context):
    TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    page = console_signed_in_earlier(new_context, live_server.url, world.worker, minutes=1)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/step-up/?next=/records/")
    for _ in range(10):
        page.select_option("select[name=method]", "totp")
        page.fill("input[name=token]", "000000")
        page.get_by_role("button", name="Verify").click()
    assert "/accounts/login/" in page.url
    expect(page.get_by_text("You were signed out after too many wrong codes.")).to_be_visible()
    expect(page.get_by_text("call your supervisor")).to_be_visible()
    shoot(page, "step-up-locked-signed-out-390")
