"""Keyboard only, in real Chromium: the skip link comes first and shows, the focus is always visible, and a
worker signs in without a mouse (Tab, typing, Enter)."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.test_login_device_approval import PASSWORD, fresh_totp
from tests.factories import WorkerFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, name: e.getAttribute('name'), cls: e.className, outline: s.outlineStyle,
                    width: parseFloat(s.outlineWidth), visible: e.getBoundingClientRect().left >= 0};
        }"""
    )


def tab_to(page, name: str, limit: int = 15) -> list[dict]:
    """Press Tab until the control called `name` has the focus; every stop on the way shows its focus."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(focused(page))
        if stops[-1]["name"] == name:
            return stops
    raise AssertionError(f"Tab never reached {name}: {stops}")


def test_a_worker_signs_in_with_the_keyboard_alone(live_server, page, world, screenshot):
    worker = WorkerFactory(username="keyboard.worker", facility=world.facility)
    otp = TOTPDevice.objects.create(user=worker, name="authenticator app", confirmed=True)
    page.goto(f"{live_server.url}/accounts/login/")
    assert focused(page)["name"] == "username"  # the login page puts the focus in its first field
    backwards = []  # Shift+Tab back to the top: header controls, then the skip link, the page's first stop
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        backwards.append(focused(page))
        if backwards[-1]["cls"] == "skip":
            break
    assert all(stop["outline"] == "solid" and stop["width"] >= 3 for stop in backwards), backwards
    page.keyboard.press("Shift+Tab")
    assert focused(page)["tag"] == "BODY"  # nothing before the skip link
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["cls"] == "skip" and skip["visible"] and skip["outline"] == "solid" and skip["width"] >= 3
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    stops = tab_to(page, "username", limit=3)  # from the content, the next stop is its first field
    assert len(stops) == 1 and stops[0]["outline"] == "solid" and stops[0]["width"] >= 3, stops
    page.keyboard.type("keyboard.worker")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/code/" in url)

    if focused(page)["name"] != "token":  # the skip link's #main came along: the focus is on the content
        tab_to(page, "token", limit=3)
    page.keyboard.type(fresh_totp(otp))
    page.keyboard.press("Enter")
    # The browser is new to this worker: the login stops at the device code, reached without a mouse.
    expect(page.locator("h1")).to_have_text(re.compile("approv", re.I))
    screenshot("keyboard-login")
