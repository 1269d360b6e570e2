"""The worker's phone first, in real Chromium at 1280×900 and 390×844, in English and in Hindi (the switch in
the header): search is the first thing on the home page; revoking the device in use asks first; the code
field opens the number pad and a backup code has a field of its own.

The worker's browser gets the session the login creates (tests.conftest.sign_in), copied into Chromium as
cookies, except in the code-field journey, which goes through the real password page.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import RegisteredDevice
from accounts.services.devices import device_register
from accounts.services.otp import backup_codes_generate
from tests.browser.conftest import SCREENSHOTS, cookies_give
from tests.browser.test_login_device_approval import PASSWORD
from tests.conftest import sign_in
from tests.records.conftest import make_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGUAGES = ("en", "hi")


def context_for(new_context, size: str):
    phone = size == "phone"
    return new_context(viewport=SIZES[size], is_mobile=phone, has_touch=phone)


def signed_in_page(new_context, base_url: str, user, size: str):
    client = Client()
    device = sign_in(client, user)
    RegisteredDevice.objects.filter(pk=device.pk).update(label="Chrome on Android")
    context = context_for(new_context, size)
    cookies_give(context, base_url, {c.key: c.value for c in client.cookies.values()})
    return context.new_page(), device


def switch_language(page, language: str) -> None:
    """Use the header's switch, as a person would (English is the default)."""
    if language == "en":
        return
    page.select_option("#language", language)
    with page.expect_navigation():
        page.locator("header.site form.inline button[type=submit]").first.click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page, size: str) -> bool:
    # Against the viewport's width: a mobile browser widens its layout viewport to fit content that overflows.
    return page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]


def inside_the_screen(page, locator, size: str) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_the_workers_home_opens_on_the_search(world, live_server, new_context, size, language):
    record = make_record("10000000000001", world.facility, name="Sunita Yadav")
    page, _device = signed_in_page(new_context, live_server.url, world.worker, size)
    page.goto(f"{live_server.url}/")
    switch_language(page, language)

    search = page.locator("#search form")
    reference = search.locator("input[name=reference_id]")
    button = search.locator("button[type=submit]")
    # The search, its button included, is on the first screen, before the look-ups and the account.
    assert button.bounding_box()["y"] + button.bounding_box()["height"] <= SIZES[size]["height"]
    order = page.evaluate(
        "[...document.querySelectorAll('main > .card')].map(card => card.id || card.querySelector('h2')?.id || '')"
    )
    assert order[0] == "search" and order[-1] == "my-account"
    assert no_sideways_scroll(page, size)
    shoot(page, f"worker-home-{size}-{language}")

    page.select_option("#search select[name=purpose]", "due_dose")
    reference.fill(record.reference_id)
    button.click()
    expect(page.locator("ul.results")).to_contain_text("Sunita Yadav")
    assert no_sideways_scroll(page, size)
    page.goto(f"{live_server.url}/")  # the look-up is listed below the search, in rows that fit the screen
    expect(page.locator("table.stack")).to_contain_text(record.reference_id)
    assert no_sideways_scroll(page, size)
    shoot(page, f"worker-home-after-a-search-{size}-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_revoking_the_device_in_use_asks_first(world, live_server, new_context, size, language):
    page, device = signed_in_page(new_context, live_server.url, world.worker, size)
    spare = device_register(user=world.worker, token="spare-phone", ip="10.0.0.7", user_agent="Firefox on Android")
    page.goto(f"{live_server.url}/")
    switch_language(page, language)
    page.locator("#my-account a.button").click()
    expect(page.locator("#devices")).to_be_visible()
    assert no_sideways_scroll(page, size)
    buttons = page.locator("#devices button")
    expect(buttons).to_have_count(2)  # the device in use and the pending spare
    for i in range(2):
        assert inside_the_screen(page, buttons.nth(i), size), "a Revoke button is cut off"
    shoot(page, f"worker-my-account-{size}-{language}")

    # One tap on the device in use only asks; "No" keeps it and the session.
    in_use = page.locator("#devices tr", has=page.locator("code", has_text=device.code))
    in_use.locator("button").click()
    expect(page.locator("input[name=confirm][value=yes]")).to_have_count(1)
    expect(page.locator("main")).to_contain_text(device.code)
    assert no_sideways_scroll(page, size)
    shoot(page, f"worker-revoke-confirm-{size}-{language}")
    page.locator("main a.button.secondary").click()
    expect(page.locator("#devices")).to_be_visible()
    assert RegisteredDevice.objects.get(pk=device.pk).status == RegisteredDevice.Status.APPROVED

    # The spare device goes at once; the device in use only after "Yes", which signs the worker out.
    page.locator("#devices tr", has=page.locator("code", has_text=spare.code)).locator("button").click()
    expect(page.locator("ul.messages li.success")).to_be_visible()
    assert RegisteredDevice.objects.get(pk=spare.pk).status == RegisteredDevice.Status.REVOKED
    page.locator("#devices tr", has=page.locator("code", has_text=device.code)).locator("button").click()
    page.locator("main form button.danger").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    expect(page.locator("ul.messages")).to_be_visible()
    assert RegisteredDevice.objects.get(pk=device.pk).status == RegisteredDevice.Status.REVOKED
    shoot(page, f"worker-revoked-signed-out-{size}-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_the_code_field_opens_the_number_pad(world, live_server, new_context, size, language):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    backup_codes_generate(user=world.worker)
    page = context_for(new_context, size).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    switch_language(page, language)
    page.fill("input[name=username]", world.worker.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/code/")

    token = page.locator("input[name=token]")
    expect(token).to_have_attribute("inputmode", "numeric")
    expect(token).to_have_attribute("autocomplete", "one-time-code")
    expect(token).to_have_attribute("pattern", "[0-9]{6}")
    expect(token).to_have_attribute("maxlength", "6")
    expect(token).to_be_focused()
    backup = page.locator("input[name=backup_code]")
    expect(backup).to_be_hidden()  # folded away under "Use a backup code instead"
    assert no_sideways_scroll(page, size)
    shoot(page, f"login-code-{size}-{language}")
    page.locator("details.backup summary").click()
    expect(backup).to_be_visible()
    expect(backup).to_have_attribute("inputmode", "text")
    shoot(page, f"login-code-backup-{size}-{language}")
