"""The consent step on the worker's pages: the code page, its errors, and the record it opens, through HTTP."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from records.models import AccessEvent, Consent
from tests.conftest import sign_in
from tests.portal.test_accessibility import problems
from tests.records.conftest import sent_code
from tests.records.test_pages import record_url, without_tokens

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]

ASKED = "beneficiary_request"
ECHOED_ADDRESS = re.compile(rb'name="next" type="hidden" value="[^"]*"')  # the language switch's way back


@pytest.fixture
def asha(client, world):
    sign_in(client, world.worker)
    return client


def post_code(client, record, **fields):
    return client.post(record_url(record, purpose=None), {"purpose": ASKED, **fields})


def send(client, record):
    return post_code(client, record, send="1")


def test_a_link_sends_nothing_the_button_sends_the_code(asha, records, outbox):
    offer = asha.get(record_url(records.own, ASKED))  # what any site could make the worker's browser open
    body = offer.content.decode()
    assert offer.status_code == 200 and "Send the code" in body and 'name="code"' not in body and not outbox
    assert "+91******0001" in body and "9876500001" not in body and "Sunita" not in body
    assert problems(body) == []
    forged = Client(enforce_csrf_checks=True)  # another site's form posts without the page's token
    forged.cookies = asha.cookies
    assert forged.post(record_url(records.own, purpose=None), {"purpose": ASKED, "send": "1"}).status_code == 403
    assert not outbox and not Consent.objects.exists()


def test_the_code_page_asks_for_the_code_sent_to_the_masked_mobile(asha, records, outbox):
    page = send(asha, records.own)
    body = page.content.decode()
    assert page.status_code == 200 and "Ask the beneficiary for the code" in body and len(outbox) == 1
    assert "+91******0001" in body and "9876500001" not in body and "Sunita" not in body
    assert 'inputmode="numeric"' in body and 'autocomplete="one-time-code"' in body
    assert sent_code(outbox) not in body and 'name="send"' in body
    assert problems(body) == []  # every control labelled, every description tied

    opened = post_code(asha, records.own, code=sent_code(outbox))
    assert opened.status_code == 200 and b"Sunita Yadav" in opened.content and b"XXXX XXXX 5678" in opened.content
    assert b"counts as unexplained" not in opened.content
    assert asha.get(record_url(records.own, ASKED)).status_code == 200  # the rest of the day: at once
    assert len(outbox) == 1
    events = AccessEvent.objects.order_by("actor_seq").values_list("outcome", "purpose")
    assert list(events) == [("consent_asked", ASKED), ("allowed", ASKED), ("allowed", ASKED)]


def test_wrong_and_malformed_codes_get_clear_errors(asha, records, outbox):
    send(asha, records.own)
    code = sent_code(outbox)
    wrong = post_code(asha, records.own, code="000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and b"Tries left: 2." in wrong.content and b"Sunita" not in wrong.content
    letters = post_code(asha, records.own, code="12ab56")
    assert letters.status_code == 400 and b"A code is 6 digits" in letters.content
    assert problems(letters.content.decode()) == [] and b'aria-invalid="true"' in letters.content
    empty = post_code(asha, records.own, code="")
    assert empty.status_code == 400 and b"Type the code the beneficiary received." in empty.content
    assert Consent.objects.get().tries == 1  # malformed codes are not tried, and read nothing
    assert AccessEvent.objects.count() == 2
    no_purpose = asha.post(record_url(records.own, purpose=None), {"code": code})
    assert no_purpose.status_code == 400 and b"Why are you opening this record?" in no_purpose.content
    assert post_code(asha, records.own, code=f" {code[:3]} {code[3:]} ").status_code == 200  # spaces are dropped


def test_send_again_sends_a_new_code_within_the_limits(asha, records, outbox, settings):
    settings.PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR = 2
    send(asha, records.own)
    assert asha.get(record_url(records.own, ASKED)).status_code == 200 and len(outbox) == 1  # a reload: no new SMS
    resent = post_code(asha, records.own, send="1")
    assert resent.status_code == 200 and b"We sent a code" in resent.content and len(outbox) == 2
    limited = post_code(asha, records.own, send="1")
    assert limited.status_code == 429 and b"too often in the last hour" in limited.content and len(outbox) == 2
    assert post_code(asha, records.own, code=sent_code(outbox)).status_code == 200  # the code still waiting works


def test_without_a_mobile_the_page_says_the_look_up_is_unexplained(asha, records, outbox):
    records.own.mobile = ""
    records.own.save()
    page = asha.get(record_url(records.own, ASKED))
    assert page.status_code == 200 and b"Sunita Yadav" in page.content
    assert b"This look-up counts as unexplained" in page.content and not outbox
    assert b"no mobile number" not in asha.get(record_url(records.own, "due_dose")).content


def test_missing_and_out_of_scope_ids_get_todays_answer_with_this_purpose(asha, records, outbox):
    ids = ["99999999999999", records.far.reference_id, records.other_state.reference_id]
    answers = [asha.get(record_url(i, purpose)) for i in ids for purpose in ("due_dose", ASKED)]
    answers += [post_code(asha, i, code="123456") for i in ids]
    assert {a.status_code for a in answers} == {404}
    bodies = {ECHOED_ADDRESS.sub(b"", without_tokens(a.content)) for a in answers}
    assert len(bodies) == 1 and b"No record matches" in bodies.pop()
    assert not outbox and not Consent.objects.exists()
    assert set(AccessEvent.objects.values_list("outcome", flat=True)) == {"not_found", "out_of_scope"}


def test_a_reveal_with_this_purpose_without_consent_is_refused(asha, records, outbox):
    url = f"/records/{records.own.reference_id}/reveal/"
    response = asha.post(url, {"purpose": ASKED, "field": "id_number", "reason": "she asked for her card"})
    assert response.status_code == 403 and b"open the record first" in response.content
    assert b"123412345678" not in response.content and not outbox


def page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_consented_record_page_costs_one_query_more_than_another_purpose(asha, records, outbox):
    asha.get(record_url(records.own, "due_dose"))
    other = page_queries(asha, record_url(records.own, "due_dose"))
    send(asha, records.own)
    post_code(asha, records.own, code=sent_code(outbox))
    assert page_queries(asha, record_url(records.own, ASKED)) == other + 1
