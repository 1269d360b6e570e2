"""The worker's record pages and the supervisor's view of a worker's access log, through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.login.session import AUTH_AT_KEY
from accounts.models import Alert, Status
from records.models import AccessEvent
from tests.conftest import sign_in
from tests.records.conftest import access_log_broken

SEARCH = "/records/"
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def record_url(record_or_id, purpose="due_dose"):
    reference_id = getattr(record_or_id, "reference_id", record_or_id)
    return f"/records/{reference_id}/" + (f"?purpose={purpose}" if purpose else "")


def without_tokens(body: bytes) -> bytes:
    """The page minus its per-request CSRF tokens (masked afresh on every response)."""
    return CSRF.sub(b"", body)


@pytest.fixture
def asha(client, world):
    sign_in(client, world.worker)
    return client


@pytest.mark.django_db
def test_the_record_pages_need_a_signed_in_account(client, records):
    for url in (SEARCH, record_url(records.own)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not AccessEvent.objects.exists()


@pytest.mark.django_db
def test_search_then_open_a_record(asha, records):
    response = asha.post(SEARCH, {"purpose": "due_dose", "mobile": "98765 00001", "name": "sunita yadav"})
    assert response.status_code == 200
    assert b"Sunita Yadav" in response.content and records.own.reference_id.encode() in response.content
    response = asha.get(record_url(records.own))
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    assert "XXXX XXXX 5678" in body and "123412345678" not in body and "9876500001" not in body
    assert "Covishield" in body
    assert list(AccessEvent.objects.values_list("action", "outcome")) == [("search", "allowed"), ("view", "allowed")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reference_id": "1000*"}, b"Wildcards are not allowed"),
        ({"reference_id": "12345"}, b"A reference id has exactly 14 digits."),
        ({"name": "Sunita Yadav"}, b"Enter the full 10-digit mobile number"),
        ({"purpose": "", "reference_id": "10000000000001"}, b"This field is required."),
    ],
)
def test_search_refuses_fragments_with_a_clear_message(asha, records, fields, message):
    response = asha.post(SEARCH, {"purpose": "due_dose", **fields})
    assert response.status_code == 200 and message in response.content
    assert b"<h2>Results</h2>" not in response.content
    assert not AccessEvent.objects.exists()


@pytest.mark.django_db
def test_a_record_without_a_purpose_is_not_opened(asha, records):
    for url in (record_url(records.own, purpose=None), record_url(records.own, purpose="curiosity")):
        response = asha.get(url)
        assert response.status_code == 400 and b"Why are you opening this record?" in response.content
        assert b"<h2>Results</h2>" not in response.content
    assert not AccessEvent.objects.exists()


@pytest.mark.django_db
def test_guessing_record_ids_reveals_nothing(asha, records):
    """IDOR: another district's record, another state's, and an id nobody has all get the same 404 page."""
    ids = ["99999999999999", *(r.reference_id for r in (records.far, records.other_state, records.same_district))]
    answers = {reference_id: asha.get(record_url(reference_id)) for reference_id in ids}
    assert {a.status_code for a in answers.values()} == {404}
    # Equal byte for byte, once the per-response CSRF masks and the echoed address are set aside.
    bodies = {without_tokens(a.content).replace(i.encode(), b"ID") for i, a in answers.items()}
    assert len(bodies) == 1 and b"No record matches" in bodies.pop()
    assert asha.get(record_url("not-a-number")).status_code == 404
    outcomes = list(AccessEvent.objects.order_by("actor_seq").values_list("outcome", flat=True))
    assert outcomes == ["not_found", "out_of_scope", "out_of_scope", "out_of_scope", "not_found"]


@pytest.mark.django_db
def test_reveal_asks_for_a_step_up_first(asha, records):
    session = asha.session
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=10)).isoformat()  # signed in 10 minutes ago
    session.save()
    page = asha.get(record_url(records.own))
    assert b"Confirm with a one-time code to reveal" in page.content and b'name="reason"' not in page.content
    response = asha.post(
        f"/records/{records.own.reference_id}/reveal/", {"purpose": "due_dose", "field": "id_number", "reason": "card"}
    )
    assert response.status_code == 403 and b"123412345678" not in response.content


@pytest.mark.django_db
def test_reveal_after_a_fresh_code(asha, records):
    page = asha.get(record_url(records.own))  # sign_in proved a code just now
    assert b'name="reason"' in page.content
    url = f"/records/{records.own.reference_id}/reveal/"
    missing = asha.post(url, {"purpose": "due_dose", "field": "id_number", "reason": ""})
    assert missing.status_code == 400 and b"This field is required." in missing.content
    response = asha.post(url, {"purpose": "due_dose", "field": "id_number", "reason": "she asked for her card"})
    assert response.status_code == 200 and b"123412345678" in response.content
    assert AccessEvent.objects.filter(action="reveal", outcome="allowed").count() == 1


@pytest.mark.django_db
def test_over_budget_is_a_clear_refusal(asha, world, records, settings):
    settings.PRAHARI_DAILY_VIEW_BUDGET = 2
    assert asha.get(record_url(records.own)).status_code == 200
    assert asha.get(record_url(records.own)).status_code == 200
    response = asha.get(record_url(records.own))
    assert response.status_code == 429 and b"used today&#x27;s 2 record look-ups" in response.content
    assert b"Sunita Yadav" not in response.content
    assert Alert.objects.filter(subject=world.worker, rule="daily_budget").count() == 1


@pytest.mark.django_db
def test_a_canary_ends_the_session_with_a_neutral_page(asha, world, records):
    response = asha.get(record_url(records.canary))
    assert response.status_code == 200
    assert b"This page is not available" in response.content and b"Kavita" not in response.content
    assert b"canary" not in response.content.lower()
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED
    assert Alert.objects.get(subject=world.worker).severity == Alert.Severity.CRITICAL
    after = asha.get(SEARCH)
    assert after.status_code == 302 and after["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_record_is_refused_when_its_event_cannot_be_written(asha, records):
    with access_log_broken():
        response = asha.get(record_url(records.own))
    assert response.status_code == 503
    assert b"Sunita Yadav" not in response.content and b"the access log could not be written" in response.content


@pytest.mark.django_db
def test_home_lists_ones_own_recent_look_ups(asha, world, records):
    asha.get(record_url(records.own))
    asha.get(record_url(records.far))
    page = asha.get("/").content.decode()
    assert "Your recent look-ups" in page
    assert page.index(records.far.reference_id) < page.index(records.own.reference_id)  # newest first
    assert "Out of scope" in page


@pytest.mark.django_db
def test_a_supervisor_reads_a_workers_access_log_and_nobody_edits_it(client, world, records):
    worker = client
    sign_in(worker, world.worker)
    worker.get(record_url(records.own))
    event = AccessEvent.objects.get()
    from django.test import Client

    supervisor = Client()
    sign_in(supervisor, world.supervisor)
    listing = supervisor.get(reverse("admin:records_accessevent_changelist"), {"actor__id__exact": world.worker.pk})
    assert listing.status_code == 200 and records.own.reference_id.encode() in listing.content
    change_url = reverse("admin:records_accessevent_change", args=[event.pk])
    page = supervisor.get(change_url)
    assert page.status_code == 200 and b'name="purpose"' not in page.content  # read-only
    assert supervisor.post(change_url, {"purpose": "edited"}).status_code == 403
    user_page = supervisor.get(reverse("admin:accounts_user_change", args=[world.worker.pk]))
    assert f"actor__id__exact={world.worker.pk}".encode() in user_page.content

    far = Client()
    sign_in(far, world.far_supervisor)
    listing = far.get(reverse("admin:records_accessevent_changelist"), {"actor__id__exact": world.worker.pk})
    assert listing.status_code == 200 and records.own.reference_id.encode() not in listing.content
    assert far.get(change_url).status_code in (302, 404)
    assert AccessEvent.objects.get().purpose == "due_dose"
