"""The record pages under fuzzed input: search, a record's page (its id and query string), and reveal.

Never a 500. A refused input (a form error, a missing purpose) reads nothing and logs nothing: the database is
as it was. An input the pages take is answered (a record, "not found", a refusal) and only the access log grows,
as it must for every look-up (docs/records-and-access-log.md)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from records.forms import PurposeForm, RevealForm, SearchForm
from records.keys import Purpose
from tests.conftest import sign_in
from tests.fuzz.harness import (
    NASTY,
    SESSIONS,
    VALUE,
    assert_not_500,
    changed,
    form_data,
    post_raw,
    raw_query,
    snapshot,
)
from tests.records.conftest import make_record

pytestmark = pytest.mark.django_db
# What a look-up that was taken writes: the access event, its chain's head.
ACCESS_LOG = frozenset({"records_accessevent", "records_accesschainhead"})
PURPOSES = st.sampled_from([value for value, _label in Purpose.choices])
IDS = st.one_of(
    st.just("10000000000001"),
    st.from_regex(r"[0-9]{1,20}", fullmatch=True),
    NASTY.map(lambda s: s[:500]),
)


def _exempt(form_class, response, data=None) -> frozenset[str]:
    """The tables this request may have written: its session; the access log too if the page's form took the
    input (the look-up happened, whatever it found); nothing else."""
    form = form_class(response.wsgi_request.POST if data is None else data)
    return SESSIONS | ACCESS_LOG if form.is_valid() else SESSIONS


@pytest.fixture
def worker_client(client, world):
    make_record("10000000000001", world.facility)
    make_record("10000000000003", world.far_facility, mobile="+919876500003")
    sign_in(client, world.worker)
    return client


@given(
    body=st.one_of(
        form_data(
            {
                "purpose": PURPOSES,
                "reference_id": st.one_of(st.just("10000000000001"), st.from_regex(r"[0-9 ]{1,20}", fullmatch=True)),
                "mobile": st.from_regex(r"\+?[0-9 ]{1,15}", fullmatch=True),
                "name": st.text(max_size=40),
            }
        ),
        raw_query(["purpose", "reference_id", "mobile", "name"]),
    )
)
@example(body={"purpose": "due_dose", "reference_id": "10000000000001"})  # taken: the access log grows
@example(body={"purpose": "due_dose", "reference_id": "1000000000000"})  # refused: nothing written
def test_search_refuses_bad_input_and_logs_only_what_it_looks_up(worker_client, body):
    before = snapshot(SESSIONS)
    path = "/records/"
    response = post_raw(worker_client, path, body) if isinstance(body, str) else worker_client.post(path, body)
    assert_not_500(response)
    assert response.status_code in (200, 400, 403, 404, 429)
    f = SearchForm(response.wsgi_request.POST)
    assert changed(before, snapshot(_exempt(SearchForm, response))) == [], (
        response.status_code,
        f.is_valid(),
        f.errors,
        dict(response.wsgi_request.POST),
        [t.name for t in response.templates][:2],
        response.content[:3000],
    )


@given(
    reference_id=IDS,
    query=st.one_of(
        st.fixed_dictionaries({}, optional={"purpose": st.one_of(PURPOSES, VALUE), "code": VALUE, "send": VALUE}),
        raw_query(["purpose", "code", "send"]),
    ),
)
@example(reference_id="10000000000001", query={"purpose": "due_dose"})
@example(reference_id="10000000000003", query={"purpose": "due_dose"})  # another district's: "not found", logged
def test_a_record_page_answers_any_id_and_query(worker_client, reference_id, query):
    path = f"/records/{quote(reference_id, safe='')}/"
    before = snapshot(SESSIONS)
    if isinstance(query, str):
        response = worker_client.generic("GET", f"{path}?{query}")
    else:
        response = worker_client.get(path, query)
    assert_not_500(response)
    assert response.status_code in (200, 301, 302, 400, 403, 404, 429)
    assert changed(before, snapshot(_exempt(PurposeForm, response, data=response.wsgi_request.GET))) == []


@given(
    reference_id=IDS,
    body=st.one_of(
        form_data({"purpose": PURPOSES, "field": st.sampled_from(["id_number", "mobile", "name"]), "reason": NASTY}),
        raw_query(["purpose", "field", "reason"]),
    ),
)
@example(reference_id="10000000000001", body={"purpose": "due_dose", "field": "mobile", "reason": "to call her"})
@example(reference_id="10000000000001", body={"purpose": "due_dose", "field": "name", "reason": "x"})
def test_reveal_refuses_bad_input_and_logs_only_what_it_looks_up(worker_client, reference_id, body):
    path = f"/records/{quote(reference_id, safe='')}/reveal/"
    before = snapshot(SESSIONS)
    response = post_raw(worker_client, path, body) if isinstance(body, str) else worker_client.post(path, body)
    assert_not_500(response)
    assert response.status_code in (200, 400, 403, 404, 429)
    assert changed(before, snapshot(_exempt(RevealForm, response))) == []


# --- The beneficiary's own look at the record (/my-record/, no login) ---------------------------------------


@pytest.fixture
def beneficiary(world):
    return make_record("10000000000001", world.facility)  # mobile +919876500001


@given(
    body=st.one_of(
        form_data(
            {
                "reference_id": st.one_of(st.just("10000000000001"), st.from_regex(r"[0-9 ]{1,20}", fullmatch=True)),
                "mobile": st.one_of(st.just("9876500001"), st.from_regex(r"\+?[0-9 ]{1,15}", fullmatch=True)),
            }
        ),
        raw_query(["reference_id", "mobile"]),
    )
)
@example(body={"reference_id": "1000000000000", "mobile": "9876500001"})  # refused by the form: nothing written
def test_a_beneficiary_asking_for_a_code_with_bad_input_changes_nothing(beneficiary, settings, body):
    from django.test import Client

    from accounts import sms
    from records.forms_transparency import TransparencyAskForm

    settings.SMS_BACKEND = "locmem"
    client = Client()
    before = snapshot(SESSIONS)
    response = post_raw(client, "/my-record/", body) if isinstance(body, str) else client.post("/my-record/", body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 429)
    if not TransparencyAskForm(response.wsgi_request.POST).is_valid():
        assert response.status_code in (200, 400)  # an empty POST is the blank form again
        assert changed(before, snapshot(SESSIONS)) == []
    sms.outbox.clear()


@given(
    body=st.one_of(form_data({"code": st.from_regex(r"[0-9 ]{1,10}", fullmatch=True)}), raw_query(["code"])),
    page=st.one_of(st.none(), NASTY.map(lambda s: s[:100])),
)
def test_the_beneficiarys_code_and_history_pages_answer_any_input(beneficiary, settings, body, page):
    from django.test import Client

    from accounts import sms

    settings.SMS_BACKEND = "locmem"
    client = Client()
    client.post("/my-record/", {"reference_id": "10000000000001", "mobile": "9876500001"})
    response = (
        post_raw(client, "/my-record/code/", body) if isinstance(body, str) else client.post("/my-record/code/", body)
    )
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 429)
    response = client.get("/my-record/history/", {} if page is None else {"page": page})
    assert_not_500(response)
    assert response.status_code in (200, 302, 404)
    sms.outbox.clear()
