"""A beneficiary on a phone (390×844) sees who opened their record, in English and in Hindi, in real Chromium,
with no JavaScript and no Prahari account; the same pages at 1280×900."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import sms
from records.audit import access_event_append
from records.keys import Purpose
from records.models import AccessExplanation, AnomalyWatermark
from tests.browser.conftest import SCREENSHOTS
from tests.records.conftest import make_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


@pytest.fixture
def looked_at(world, settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    record = make_record("10000000000001", world.facility, name="Sunita Yadav", mobile="+919876500001")
    now = timezone.now()
    first = access_event_append(
        actor=world.worker, action="view", outcome="allowed", purpose=Purpose.DUE_DOSE, beneficiary=record
    )
    second = access_event_append(
        actor=world.colleague, action="view", outcome="allowed", purpose=Purpose.BENEFICIARY_REQUEST, beneficiary=record
    )
    access_event_append(
        actor=world.supervisor, action="reveal", outcome="allowed", purpose=Purpose.CERTIFICATE, beneficiary=record
    )
    AccessExplanation.objects.create(
        event=first, actor=world.worker, event_at=now - timedelta(minutes=1), kind=AccessExplanation.Kind.APPOINTMENT
    )
    AnomalyWatermark.objects.update_or_create(
        stream=AnomalyWatermark.Stream.EXPLANATIONS, defaults={"last_id": second.pk}
    )
    yield record
    sms.outbox.clear()


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def switch_to_hindi(page) -> None:
    page.select_option("#language", "hi")
    page.get_by_role("button", name="Change").click()


def journey(page, base_url: str, viewport: dict, language: str, world) -> None:
    width = viewport["width"]
    name = f"transparency-{width}-{language}"
    page.goto(f"{base_url}/my-record/")
    if language == "hi":
        switch_to_hindi(page)
        expect(page.get_by_role("heading", name="मेरा रिकॉर्ड किसने खोला?")).to_be_visible()
    else:
        expect(page.get_by_role("heading", name="Who opened my record?")).to_be_visible()
    page.locator("input[name=reference_id]").fill("1000 0000 0000 01")
    page.locator("input[name=mobile]").fill("98765 00001")
    assert no_sideways_scroll(page, width)
    shoot(page, f"{name}-1-ask")
    page.locator("form:not(.inline) button[type=submit]").click()

    expect(page.locator("input[name=code]")).to_be_visible()
    assert no_sideways_scroll(page, width)
    shoot(page, f"{name}-2-code")
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)
    page.locator("input[name=code]").fill(code)
    page.locator("form:not(.inline) button[type=submit]").click()

    expect(page.locator("table.list tbody tr")).to_have_count(3)
    html = page.content()
    for person in (world.worker, world.colleague, world.supervisor):
        assert person.username not in html and person.get_full_name() not in html
    if language == "hi":
        for text in ("स्वास्थ्यकर्मी", "कारण मिला", "कारण नहीं मिला", "अभी जाँचा नहीं गया", "PHC Chinhat"):
            expect(page.get_by_text(text, exact=False).first).to_be_visible()
    else:
        for text in ("Health worker", "Explained (appointment)", "Not explained", "Not yet checked", "PHC Chinhat"):
            expect(page.get_by_text(text, exact=False).first).to_be_visible()
    assert no_sideways_scroll(page, width)
    shoot(page, f"{name}-3-history")


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_beneficiary_sees_who_opened_the_record_on_a_phone(world, looked_at, live_server, new_context, language):
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False)
    journey(context.new_page(), live_server.url, PHONE, language, world)


@pytest.mark.parametrize("language", ["en", "hi"])
def test_the_same_pages_on_a_computer(world, looked_at, live_server, new_context, language):
    context = new_context(viewport=DESK, java_script_enabled=False)
    journey(context.new_page(), live_server.url, DESK, language, world)
