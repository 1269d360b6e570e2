"""A worker on a small phone (360×740) finds a record, opens it, and reveals one field, in real Chromium.

The login itself is tested in test_login_device_approval.py; here the worker's browser gets the
session the login creates (tests.conftest.sign_in), copied into Chromium as cookies.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from records.models import AccessEvent
from tests.browser.conftest import SCREENSHOTS, cookies_give
from tests.conftest import sign_in
from tests.records.conftest import make_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def signed_in_context(new_context, base_url: str, user):
    client = Client()
    sign_in(client, user)
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    cookies_give(context, base_url, {c.key: c.value for c in client.cookies.values()})
    return context


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page) -> bool:
    # Against the phone's width, not innerWidth: a mobile browser widens its layout viewport to fit the content.
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_worker_searches_opens_and_reveals_on_a_phone(world, live_server, new_context):
    record = make_record("10000000000001", world.facility, name="Sunita Yadav", mobile="+919876500001")
    page = signed_in_context(new_context, live_server.url, world.worker).new_page()

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Find a record").first.click()
    expect(page.get_by_role("heading", name="Find a record")).to_be_visible()
    page.select_option("select[name=purpose]", "due_dose")
    page.get_by_label("Mobile number").fill("98765 00001")
    page.get_by_label("Full name").fill("sunita yadav")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Sunita Yadav")).to_be_visible()
    assert no_sideways_scroll(page)
    shoot(page, "records-phone-search")

    page.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name="Sunita Yadav")).to_be_visible()
    expect(page.get_by_text("XXXX XXXX 5678")).to_be_visible()
    assert "123412345678" not in page.content()
    assert no_sideways_scroll(page)
    shoot(page, "records-phone-record")

    page.select_option("select[name=field]", "id_number")
    page.get_by_label("Why you need it").fill("she asked for her vaccination card")
    page.get_by_role("button", name="Reveal").click()
    expect(page.locator(".revealed")).to_have_text(record.id_number)
    assert no_sideways_scroll(page)
    shoot(page, "records-phone-revealed")

    page.goto(f"{live_server.url}/")  # home lists the look-ups, sessions and devices: still no sideways scroll
    expect(page.get_by_role("heading", name="Your recent look-ups")).to_be_visible()
    assert no_sideways_scroll(page)
    shoot(page, "records-phone-home")

    assert list(
        AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq").values_list("action", "outcome")
    ) == [
        ("search", "allowed"),
        ("view", "allowed"),
        ("reveal", "allowed"),
    ]
