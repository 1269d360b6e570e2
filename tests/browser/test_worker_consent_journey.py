"""A look-up because the beneficiary asked in person, in real Chromium at 1280×900 and 390×844, English and Hindi:
the worker chooses that purpose and presses "Send the code", the code goes by SMS to the beneficiary (read here
from the SMS outbox), a wrong code is refused with the tries left, the right one opens the record; a record
without a mobile opens with the word that the look-up counts as unexplained.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from records.models import AccessEvent
from tests.accounts.test_login_sms_and_backup import outbox  # noqa: F401 (a fixture: the SMS sent, newest last)
from tests.browser.test_worker_phone_journeys import LANGUAGES, SIZES, no_sideways_scroll, shoot, signed_in_page
from tests.browser.test_worker_phone_journeys import switch_language as switch_language
from tests.records.conftest import make_record, sent_code

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ASKED = "beneficiary_request"


def search_and_open(page, reference_id: str) -> None:
    """Choose "The beneficiary asked in person", search by the reference id, and open the one result."""
    search = page.locator("#search form")
    search.locator("select[name=purpose]").select_option(ASKED)
    search.locator("input[name=reference_id]").fill(reference_id)
    search.locator("button[type=submit]").click()
    page.locator("ul.results a.button").click()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_the_beneficiary_gives_the_code_and_the_record_opens(
    world,
    live_server,
    new_context,
    outbox,  # noqa: F811 (the fixture)
    size,
    language,
):
    record = make_record("10000000000001", world.facility, name="Sunita Yadav", mobile="+919876500001")
    page, _device = signed_in_page(new_context, live_server.url, world.worker, size)
    page.goto(f"{live_server.url}/")
    switch_language(page, language)

    search_and_open(page, record.reference_id)
    expect(page.locator("main dl.record")).to_contain_text("+91******0001")
    assert not outbox and no_sideways_scroll(page, size)  # opening the record sends nothing by itself
    shoot(page, f"consent-send-{size}-{language}")
    page.locator("main form button[name=send]").click()
    code_field = page.locator("input[name=code]")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_be_focused()
    assert [to for to, _text in outbox] == [record.mobile] and "Sunita" not in page.content()
    assert no_sideways_scroll(page, size)
    shoot(page, f"consent-code-{size}-{language}")

    code = sent_code(outbox)
    code_field.fill("000000" if code != "000000" else "111111")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("main ul.messages li.error")).to_contain_text("2")  # the tries left
    assert no_sideways_scroll(page, size)
    shoot(page, f"consent-wrong-code-{size}-{language}")

    page.locator("input[name=code]").fill(code)
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", name="Sunita Yadav")).to_be_visible()
    expect(page.locator("main dl.record")).to_contain_text("XXXX XXXX 5678")
    assert no_sideways_scroll(page, size)
    shoot(page, f"consent-record-{size}-{language}")

    outcomes = AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq").values_list("outcome", flat=True)
    # the search, the offer to send, the code sent, the wrong code, the record opened
    assert list(outcomes) == ["allowed", "refused", "consent_asked", "refused", "allowed"]

    unreachable = make_record("10000000000002", world.facility, name="Ramesh Kumar", mobile="")
    page.goto(f"{live_server.url}/")
    search_and_open(page, unreachable.reference_id)
    expect(page.get_by_role("heading", name="Ramesh Kumar")).to_be_visible()
    expect(page.locator("main ul.messages li.warning")).to_be_visible()
    assert len(outbox) == 1 and no_sideways_scroll(page, size)
    shoot(page, f"consent-no-mobile-{size}-{language}")
