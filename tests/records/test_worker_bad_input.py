"""Bad input to every page a worker uses ends in a page, a redirect or a 4xx, never a 5xx, and leaves
nothing half-written: a malformed record id is answered and logged like a missing record, once, in a
safe form; a malformed purpose or form field is refused before anything is read or logged."""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import quote, urlencode

import pytest

from accounts.models import AccountEvent
from records.models import AccessEvent
from records.verification import verify
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

MISSING_ID = "99999999999999"  # well formed, nobody has it
LONG = "9" * 10_000
# Values no form of the worker's pages expects: control characters, sizes, dates, scripts, markup.
BAD = {
    "nul": "\x00",
    "nul_in_digits": "1000000\x000000001",
    "long": LONG,
    "bad_date": "2024-02-30",
    "unicode": "नमस्ते ✓ \u202eevil",
    "devanagari_digits": "१" * 14,
    "digits_newline": "10000000000001\n",
    "controls": "\x01\x1b[31m\x7f\r\n",
    "markup": "<script>alert(1)</script>",
    "sql": "' OR '1'='1' --",
}
# Ids that reach the record pages but are not 14 ASCII digits (a slash too: the pages take any id).
BAD_IDS = {**BAD, "short": "1234", "slash": "1000/0000000001", "fifteen_digits": "100000000000001"}
PURPOSE = "due_dose"
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
NEXT = re.compile(rb'<input name="next" type="hidden" value="[^"]*">')


def _page(response) -> bytes:
    """The body minus what differs between two requests for the same answer (CSRF masks, the echoed path)."""
    return NEXT.sub(b"", CSRF.sub(b"", response.content))


def _clean(value) -> bool:
    """True when no string inside `value` holds a control character (C0, C1, format, surrogate)."""
    text = json.dumps(value, ensure_ascii=False)
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text)


def _assert_nothing_unsafe_stored():
    """Every stored id is printable and bounded; no other control character reached the logs (a reveal's
    reason, free text under the form's own limits, is kept as typed and left out here)."""
    for detail in AccessEvent.objects.values_list("detail", flat=True):
        assert _clean({key: value for key, value in detail.items() if key != "reason"})
        logged = detail.get("reference_id", "")
        assert logged.isprintable() and len(logged) <= 32
    for data, reason in AccountEvent.objects.values_list("data", "reason"):
        assert _clean(data) and _clean(reason)


def _record(reference_id: str, **query) -> str:
    return f"/records/{quote(reference_id, safe='/')}/" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture
def asha(client, world):
    sign_in(client, world.worker)
    return client


# --- Record ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_malformed_id_is_answered_and_logged_like_a_missing_record(asha, world, records, reference_id):
    missing = asha.get(_record(MISSING_ID, purpose=PURPOSE))
    before = AccessEvent.objects.count()
    response = asha.get(_record(reference_id, purpose=PURPOSE))
    assert response.status_code == missing.status_code == 404
    assert _page(response) == _page(missing)
    events = AccessEvent.objects.order_by("actor_seq")
    assert events.count() == before + 1
    event = events.last()
    assert (event.actor, event.action, event.outcome, event.purpose) == (world.worker, "view", "not_found", PURPOSE)
    assert event.beneficiary is None
    logged = event.detail["reference_id"]
    assert logged and len(logged) <= 32 and logged.isprintable() and logged != MISSING_ID
    _assert_nothing_unsafe_stored()


def test_a_malformed_id_spends_the_budget_like_a_missing_one(asha, records, settings):
    settings.PRAHARI_DAILY_VIEW_BUDGET = 2
    assert asha.get(_record("\x00", purpose=PURPOSE)).status_code == 404
    assert asha.get(_record(LONG, purpose=PURPOSE)).status_code == 404
    assert asha.get(_record(records.own.reference_id, purpose=PURPOSE)).status_code == 429
    outcomes = list(AccessEvent.objects.order_by("actor_seq").values_list("outcome", flat=True))
    assert outcomes == ["not_found", "not_found", "over_budget"]


def test_the_logged_form_of_an_id_is_escaped_and_bounded(asha, records):
    for reference_id in ("\x00", "a\x00b", LONG, "10000000000001\n", "ab\\x00"):
        asha.get(_record(reference_id, purpose=PURPOSE))
    logged = list(AccessEvent.objects.order_by("actor_seq").values_list("detail__reference_id", flat=True))
    assert logged[:2] == ["\\x00", "a\\x00b"]
    assert logged[2] == "9" * 31 + "…"
    assert logged[3] == "10000000000001\\n"
    assert logged[4] == "ab\\\\x00"  # a backslash typed is doubled: the escaped form reads one way only
    assert verify().problem is None  # the chain's hashes hold over what PostgreSQL stored


@pytest.mark.parametrize("purpose", BAD.values(), ids=BAD.keys())
def test_a_malformed_purpose_is_asked_again_and_nothing_is_logged(asha, records, purpose):
    for reference_id in (records.own.reference_id, "\x00"):
        response = asha.get(_record(reference_id, purpose=purpose))
        assert response.status_code == 400 and b"Why are you opening this record?" in response.content
        assert b"Sunita" not in response.content
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("reference_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_revealing_a_malformed_id_is_answered_and_logged_like_a_missing_record(asha, records, reference_id):
    data = {"purpose": PURPOSE, "field": "id_number", "reason": "she asked for her card"}
    missing = asha.post(f"/records/{MISSING_ID}/reveal/", data)
    response = asha.post(_record(reference_id) + "reveal/", data)
    assert response.status_code == missing.status_code == 404
    assert _page(response) == _page(missing)
    assert list(AccessEvent.objects.values_list("action", "outcome")) == [("reveal", "not_found")] * 2
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("field", ["purpose", "field", "reason", "unknown"])
def test_a_malformed_reveal_form_reveals_and_logs_nothing(asha, records, field, value):
    data = {"purpose": PURPOSE, "field": "id_number", "reason": "she asked for her card", field: value}
    response = asha.post(f"/records/{records.own.reference_id}/reveal/", data)
    if field in ("purpose", "field"):
        assert response.status_code == 400 and b"123412345678" not in response.content
        assert not AccessEvent.objects.exists()
    else:  # a reason is free text (some of these are acceptable ones) and unknown fields are ignored
        assert response.status_code in (200, 400)
        revealed = response.status_code == 200
        assert (b"123412345678" in response.content) == revealed
        assert AccessEvent.objects.filter(action="reveal", outcome="allowed").count() == revealed
        assert AccessEvent.objects.count() == revealed
    _assert_nothing_unsafe_stored()


# --- Search -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("field", ["purpose", "reference_id", "mobile", "name", "unknown"])
def test_a_malformed_search_is_refused_or_searched_once(asha, records, field, value):
    data = {"purpose": PURPOSE, "mobile": "98765 00001", "name": "Sunita Yadav", field: value}
    response = asha.post("/records/", data)
    assert response.status_code == 200
    searched = AccessEvent.objects.count()
    assert searched in (0, 1) and (b"<h2>Results</h2>" in response.content) == bool(searched)
    if field == "purpose" or (field == "reference_id" and "".join(value.split()) != records.own.reference_id):
        assert not searched  # refused with a form error before anything is read
    if field == "unknown":  # ignored
        assert b"Sunita Yadav" in response.content and searched
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_query_strings_on_the_worker_pages_change_nothing(asha, records, value):
    query = urlencode({"purpose": value, "reference_id": value, "next": value, "page": value, value: value})
    for url in ("/", "/records/", "/accounts/security/", "/accounts/password/"):
        response = asha.get(f"{url}?{query}")
        assert response.status_code == 200, url
    assert not AccessEvent.objects.exists()
    _assert_nothing_unsafe_stored()


# --- The accounts pages a worker uses --------------------------------------------------------------


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_step_up_with_a_malformed_next_or_code(asha, value):
    url = f"/accounts/step-up/?{urlencode({'next': value})}"
    assert asha.get(url).status_code == 200
    response = asha.post(url, {"method": value, "token": value})
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"] == "/"  # never a redirect to what was typed
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_password_change_with_malformed_fields_changes_nothing(asha, world, value):
    before = world.worker.password
    for field in ("old_password", "new_password1", "new_password2"):
        data = {"old_password": "wrong password", "new_password1": "a fresh passphrase", "new_password2": "x"}
        response = asha.post("/accounts/password/", {**data, field: value})
        assert response.status_code == 200, field
    world.worker.refresh_from_db()
    assert world.worker.password == before
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", [*BAD.values(), "9" * 30], ids=[*BAD.keys(), "huge_number"])
def test_ending_a_session_or_revoking_a_device_that_is_not_there(asha, world, value):
    segment = quote(value, safe="")
    ended = asha.post(f"/accounts/sessions/{segment}/end/")
    if "/" in value:  # no such page
        assert ended.status_code == 404
    else:
        assert ended.status_code == 302 and ended["Location"] == "/accounts/me/"
    assert asha.post(f"/accounts/devices/{segment}/revoke/").status_code == 404
    assert asha.get("/").status_code == 200  # still signed in
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_login_with_malformed_credentials_is_a_plain_failure(client, world, value):
    for field in ("username", "password"):
        data = {"username": world.worker.username, "password": "not the password", field: value}
        response = client.post("/accounts/login/", data)
        assert response.status_code == 200 and b"Sign-in failed" in response.content, field
        assert "_auth_user_id" not in client.session
    _assert_nothing_unsafe_stored()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_enrolment_and_reset_links_that_are_malformed(client, world, value):
    segment = quote(value, safe="")
    for url in (f"/accounts/enrol/{segment}/", f"/accounts/password-reset/{segment}/{segment}/"):
        assert client.get(url).status_code in (400, 404, 410), url
        posted = client.post(url, {"password1": value, "password2": value, "token": value, "method": value})
        assert posted.status_code in (400, 404, 410), url
    _assert_nothing_unsafe_stored()
