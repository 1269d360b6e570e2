"""The consent step of the read path: "The beneficiary asked in person" opens a record with the beneficiary's code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from records.models import AccessChainHead, AccessEvent, Consent
from records.refusals import BudgetExhausted, ConsentRequired, RecordUnavailable
from records.services import AccessInterrupted, record_get_for_viewer, record_reveal
from tests.records.conftest import sent_code, viewer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]

ASKED = "beneficiary_request"


def open_record(user, record_or_id, purpose=ASKED, **kwargs):
    reference_id = getattr(record_or_id, "reference_id", record_or_id)
    return record_get_for_viewer(viewer=viewer(user), reference_id=reference_id, purpose=purpose, **kwargs)


def refusal(user, record, **kwargs) -> ConsentRequired:
    with pytest.raises(ConsentRequired) as caught:
        open_record(user, record, **kwargs)
    return caught.value


def send_code(user, record) -> ConsentRequired:
    """The worker presses "Send the code" (a POST): the only way a code goes out."""
    return refusal(user, record, consent_send=True)


def last_event(user) -> AccessEvent:
    return AccessEvent.objects.filter(actor=user).latest("actor_seq")


def consent_of(event: AccessEvent) -> tuple[str, str, str]:
    return event.action, event.outcome, event.detail.get("consent", "")


def lookups(user) -> int:
    return AccessChainHead.objects.get(actor=user).lookups


def test_the_purpose_offers_a_code_and_sends_one_only_when_asked(world, records, outbox):
    offered = refusal(world.worker, records.own)  # opening the record, as a link's GET would: no SMS
    assert offered.status == 200 and not offered.waiting and "send a code" in str(offered) and not outbox
    assert consent_of(last_event(world.worker)) == ("view", "refused", "to_send") and not Consent.objects.exists()
    asked = send_code(world.worker, records.own)
    assert asked.status == 200 and asked.waiting and asked.mobile == "+91******0001" and "sent a code" in str(asked)
    assert [to for to, _text in outbox] == [records.own.mobile]
    event = last_event(world.worker)
    assert consent_of(event) == ("view", "consent_asked", "sent") and event.beneficiary == records.own
    assert event.purpose == ASKED and "Sunita" not in str(event.detail)
    assert lookups(world.worker) == 0  # asking spends no look-up of the day


def test_the_right_code_opens_the_record(world, records, outbox):
    send_code(world.worker, records.own)
    view = open_record(world.worker, records.own, consent_code=sent_code(outbox))
    assert view.name == "Sunita Yadav" and not view.no_mobile
    assert consent_of(last_event(world.worker)) == ("view", "allowed", "given")
    assert lookups(world.worker) == 1
    assert Consent.objects.get().given_at is not None


def test_asking_again_waits_for_the_same_code_and_resend_sends_a_new_one(world, records, outbox):
    send_code(world.worker, records.own)
    first = sent_code(outbox)
    again = refusal(world.worker, records.own)  # a reload sends nothing new
    assert len(outbox) == 1 and "still waiting" in str(again)
    assert consent_of(last_event(world.worker)) == ("view", "consent_asked", "waiting")
    refusal(world.worker, records.own, consent_send=True)
    assert len(outbox) == 2 and consent_of(last_event(world.worker)) == ("view", "consent_asked", "sent")
    if sent_code(outbox) != first:  # only the latest code counts
        assert "not the code" in str(refusal(world.worker, records.own, consent_code=first))
    assert open_record(world.worker, records.own, consent_code=sent_code(outbox)).name == "Sunita Yadav"


def test_a_wrong_code_is_refused_counted_and_logged(world, records, outbox, settings):
    send_code(world.worker, records.own)
    code = sent_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    first = refusal(world.worker, records.own, consent_code=wrong)
    assert first.status == 400 and "Tries left: 2." in str(first) and first.mobile == "+91******0001"
    assert Consent.objects.get().tries == 1
    assert consent_of(last_event(world.worker)) == ("view", "refused", "wrong_code")
    refusal(world.worker, records.own, consent_code=wrong)
    last = refusal(world.worker, records.own, consent_code=wrong)
    assert "Too many wrong codes" in str(last) and Consent.objects.get().tries == settings.PRAHARI_CONSENT_CODE_TRIES
    assert "Too many wrong codes" in str(refusal(world.worker, records.own, consent_code=code))  # burnt
    assert lookups(world.worker) == 0
    send_code(world.worker, records.own)  # nothing usable waits: a new code goes out
    assert len(outbox) == 2


def test_an_expired_code_is_refused(world, records, outbox, settings):
    send_code(world.worker, records.own)
    later = timezone.now() + timedelta(minutes=settings.PRAHARI_CONSENT_CODE_MINUTES, seconds=1)
    with freeze_time(later):
        expired = refusal(world.worker, records.own, consent_code=sent_code(outbox))
    assert expired.status == 400 and "expired" in str(expired)
    assert Consent.objects.get().given_at is None


def test_consent_holds_for_the_rest_of_the_local_day_and_a_replayed_code_opens_nothing_after(world, records, outbox):
    with freeze_time("2026-12-03 10:00:00+05:30"):
        send_code(world.worker, records.own)
        code = sent_code(outbox)
        open_record(world.worker, records.own, consent_code=code)
    with freeze_time("2026-12-03 23:59:00+05:30"):
        assert open_record(world.worker, records.own).name == "Sunita Yadav"  # at once: no code, no SMS
        assert consent_of(last_event(world.worker)) == ("view", "allowed", "standing") and len(outbox) == 1
    with freeze_time("2026-12-04 00:00:01+05:30"):
        replayed = refusal(world.worker, records.own, consent_code=code)
        assert "No code is waiting" in str(replayed) and len(outbox) == 1
        send_code(world.worker, records.own)  # a new day asks the beneficiary again
        assert len(outbox) == 2


def test_another_workers_code_does_not_open_the_record(world, records, outbox):
    send_code(world.worker, records.own)
    code = sent_code(outbox)
    assert "No code is waiting" in str(refusal(world.colleague, records.own, consent_code=code))
    send_code(world.colleague, records.own)  # the colleague's own code goes out
    assert "not the code" in str(refusal(world.colleague, records.own, consent_code=code))  # one in a million: equal
    assert not Consent.objects.filter(given_at__isnull=False).exists()
    assert open_record(world.worker, records.own, consent_code=code).name == "Sunita Yadav"


def test_without_a_mobile_the_record_opens_unexplained(world, records, outbox):
    records.own.mobile = ""
    records.own.save()
    view = open_record(world.worker, records.own)
    assert view.no_mobile and view.name == "Sunita Yadav"
    assert consent_of(last_event(world.worker)) == ("view", "allowed", "no_mobile")
    assert not outbox and not Consent.objects.exists() and lookups(world.worker) == 1
    assert not open_record(world.worker, records.own, purpose="due_dose").no_mobile


@pytest.mark.parametrize("purpose", ["due_dose", ASKED])
def test_missing_and_out_of_scope_ids_are_answered_as_before(world, records, outbox, purpose):
    answers = []
    for reference_id in ("99999999999999", records.far.reference_id, records.other_state.reference_id, "x' OR 1"):
        with pytest.raises(RecordUnavailable) as caught:
            open_record(world.worker, reference_id, purpose=purpose)
        answers.append(str(caught.value))
    assert len(set(answers)) == 1
    outcomes = list(AccessEvent.objects.order_by("actor_seq").values_list("action", "outcome", "detail"))
    assert outcomes == [
        ("view", "not_found", {"reference_id": "99999999999999"}),
        ("view", "out_of_scope", {}),
        ("view", "out_of_scope", {}),
        ("view", "not_found", {"reference_id": "x' OR 1"}),
    ]
    assert lookups(world.worker) == 4 and not outbox and not Consent.objects.exists()


def test_a_canary_trips_before_any_code_is_sent(world, records, outbox):
    with pytest.raises(AccessInterrupted):
        open_record(world.worker, records.canary)
    assert not outbox and not Consent.objects.exists()
    assert last_event(world.worker).outcome == "canary"


def test_past_the_budget_no_code_is_sent(world, records, outbox, settings):
    settings.PRAHARI_DAILY_VIEW_BUDGET = 1
    with pytest.raises(RecordUnavailable):
        open_record(world.worker, "99999999999999")
    with pytest.raises(BudgetExhausted):
        open_record(world.worker, records.own)
    assert not outbox and last_event(world.worker).outcome == "over_budget"


def test_send_limits_and_a_failed_send_are_clear_refusals(world, records, outbox, settings):
    settings.PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR = 1
    send_code(world.worker, records.own)
    limited = refusal(world.worker, records.own, consent_send=True)
    assert limited.status == 429 and "too often" in str(limited) and len(outbox) == 1
    assert consent_of(last_event(world.worker)) == ("view", "refused", "limit")
    settings.PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR = 3
    settings.SMS_BACKEND, settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN = "http", "http://127.0.0.1:9/", "t"
    unsent = send_code(world.colleague, records.own)
    assert unsent.status == 503 and "could not be sent" in str(unsent)
    assert consent_of(last_event(world.colleague)) == ("view", "refused", "not_sent")
    assert lookups(world.worker) == lookups(world.colleague) == 0


def reveal(user, record):
    return record_reveal(
        viewer=viewer(user),
        reference_id=record.reference_id,
        field_name="id_number",
        purpose=ASKED,
        reason="she asked for her card",
        stepped_up=True,
    )


def test_a_reveal_with_this_purpose_needs_the_consent_too(world, records, outbox):
    with pytest.raises(ConsentRequired) as caught:
        reveal(world.worker, records.own)
    assert caught.value.status == 403 and not outbox  # a reveal sends no code
    assert consent_of(last_event(world.worker)) == ("reveal", "refused", "missing")
    send_code(world.worker, records.own)
    open_record(world.worker, records.own, consent_code=sent_code(outbox))
    assert reveal(world.worker, records.own) == records.own.id_number
    assert consent_of(last_event(world.worker)) == ("reveal", "allowed", "standing")


def queries_of(work) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        work()
    return [q["sql"] for q in queries]


def test_the_gate_costs_other_purposes_nothing_and_a_consented_look_up_one_query(world, records, outbox):
    open_record(world.worker, records.own, purpose="due_dose")  # the chain head exists from now on
    other = queries_of(lambda: open_record(world.worker, records.own, purpose="due_dose"))
    # the gate reads no consent for another purpose: the only statement naming the table is the record's own
    # find, which asks what explains the look-up (records/explain.py)
    naming = [sql for sql in other if Consent._meta.db_table in sql]
    assert len(other) <= 8 and len(naming) == 1 and "records_beneficiary" in naming[0]
    send_code(world.worker, records.own)
    open_record(world.worker, records.own, consent_code=sent_code(outbox))
    consented = queries_of(lambda: open_record(world.worker, records.own))
    assert len(consented) == len(other) + 1, consented
