"""The one read path (records.services): scope, purpose, exact-key search, masking, budget, reveals, canaries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.exceptions import DomainError
from accounts.models import AccountEventType, Alert, Status, SuspensionCause, UserSession
from records.changes import mask_id_number
from records.keys import LookupRefused, search_key_parse
from records.models import AccessEvent
from records.services import (
    AccessInterrupted,
    AccessLogUnavailable,
    BudgetExhausted,
    RecordUnavailable,
    RevealRefused,
    StepUpRequired,
    record_get_for_viewer,
    record_reveal,
    record_search,
)
from records.verification import verify
from tests.records.conftest import access_log_broken, make_record, viewer

PURPOSE = "due_dose"

# viewer → which of (own, same_district, far, other_state) it may read
SCOPE = {
    "worker": (True, False, False, False),
    "colleague": (True, False, False, False),
    "district_worker": (False, True, False, False),
    "far_worker": (False, False, True, False),
    "supervisor": (True, True, False, False),
    "far_supervisor": (False, False, True, False),
    "state_admin": (True, True, True, False),
    "other_state_admin": (False, False, False, True),
}


def view(user, record_or_id, **kwargs):
    reference_id = getattr(record_or_id, "reference_id", record_or_id)
    return record_get_for_viewer(viewer=viewer(user), reference_id=reference_id, purpose=PURPOSE, **kwargs)


def last_event(user) -> AccessEvent:
    return AccessEvent.objects.filter(actor=user).latest("actor_seq")


@pytest.mark.django_db
@pytest.mark.parametrize("who", SCOPE)
def test_scope_matrix(world, records, who):
    user = getattr(world, who)
    for record, allowed in zip(records, SCOPE[who], strict=True):
        if allowed:
            assert view(user, record).name == record.name
            assert last_event(user).outcome == "allowed"
        else:
            with pytest.raises(RecordUnavailable):
                view(user, record)
            event = last_event(user)
            assert (event.outcome, event.beneficiary_id) == ("out_of_scope", record.pk)
    assert verify().problem is None


@pytest.mark.django_db
def test_district_scope_is_a_setting(world, records, settings):
    settings.PRAHARI_RECORD_SCOPE = "district"
    assert view(world.worker, records.same_district).name == records.same_district.name
    with pytest.raises(RecordUnavailable):
        view(world.worker, records.far)


@pytest.mark.django_db
def test_accounts_without_a_jurisdiction_read_nothing(world, records):
    from accounts.models import User

    root = User.objects.create_superuser(username="root", password=None)
    for record in records:
        with pytest.raises(RecordUnavailable):
            view(root, record)


@pytest.mark.django_db
def test_missing_and_out_of_scope_get_the_same_refusal(world, records):
    with pytest.raises(RecordUnavailable) as missing:
        view(world.worker, "99999999999999")
    with pytest.raises(RecordUnavailable) as outside:
        view(world.worker, records.far)
    assert str(missing.value) == str(outside.value)
    outcomes = list(
        AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq").values_list("outcome", flat=True)
    )
    assert outcomes == ["not_found", "out_of_scope"]


@pytest.mark.django_db
def test_the_view_is_masked_and_lists_the_doses(world, records):
    shown = view(world.worker, records.own)
    assert shown.id_number_masked == "XXXX XXXX 5678" and "1234" not in shown.id_number_masked
    assert shown.mobile_masked == "+91******0001"
    assert [(d.vaccine, d.dose_number) for d in shown.doses] == [("Covishield", 1), ("Covishield", 2)]
    assert mask_id_number("AB12") == "AB12" and mask_id_number("UP14-2013001234") == "XXXX XXXX XXX1 234"


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", ["", None, "curiosity"])
def test_a_purpose_is_required(world, records, purpose):
    with pytest.raises(LookupRefused, match="purpose"):
        record_get_for_viewer(viewer=viewer(world.worker), reference_id=records.own.reference_id, purpose=purpose)
    assert not AccessEvent.objects.exists()


@pytest.mark.django_db
def test_each_event_says_who_what_why_where(world, records):
    device = world.worker.registered_devices.create(token_hash="x" * 64, code="ABCD2345", status="approved")
    record_get_for_viewer(
        viewer=viewer(world.worker, device.pk), reference_id=records.own.reference_id, purpose=PURPOSE
    )
    event = last_event(world.worker)
    assert (event.action, event.outcome, event.beneficiary, event.purpose) == ("view", "allowed", records.own, PURPOSE)
    assert (event.ip_address, event.device_id) == ("10.1.2.3", device.pk)


@pytest.mark.django_db
def test_a_governed_view_costs_at_most_eight_queries(world, records):
    view(world.worker, records.own)  # the chain head exists from now on, as for any worker after a first look-up
    with CaptureQueriesContext(connection) as queries:
        view(world.worker, records.own)
    assert len(queries) <= 8, [q["sql"] for q in queries]


# --- Search ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reference_id": "1000000000000*"}, "Wildcards are not allowed"),
        ({"mobile": "98765%", "name": "Sunita"}, "Wildcards are not allowed"),
        ({"name": "Sun_ta Yadav", "mobile": "+919876500001"}, "Wildcards are not allowed"),
        ({"reference_id": "12345"}, "exactly 14 digits"),
        ({"reference_id": "1000000000000A"}, "exactly 14 digits"),
        ({"name": "Sunita Yadav"}, "full 10-digit mobile number"),
        ({"mobile": "98765"}, "full 10-digit mobile number"),
        ({"mobile": "9876500001", "name": "Su"}, "full name"),
        ({}, "Enter a reference id"),
    ],
)
def test_only_exact_keys_are_accepted(fields, message):
    with pytest.raises(LookupRefused, match=message):
        search_key_parse(**fields)


def test_keys_are_normalised():
    assert search_key_parse(reference_id=" 1000 0000 0000 01 ").reference_id == "10000000000001"
    key = search_key_parse(mobile="098765 00001", name="  sunita   yadav ")
    assert (key.mobile, key.name) == ("+919876500001", "sunita yadav")


@pytest.mark.django_db
def test_search_by_reference_id_and_by_mobile_and_name(world, records):
    found = record_search(
        viewer=viewer(world.worker), purpose=PURPOSE, key=search_key_parse(reference_id="10000000000001")
    )
    assert [r.reference_id for r in found.records] == ["10000000000001"]
    key = search_key_parse(mobile="9876500001", name="SUNITA yadav")
    assert [r.name for r in record_search(viewer=viewer(world.worker), purpose=PURPOSE, key=key).records] == [
        "Sunita Yadav"
    ]
    event = last_event(world.worker)
    assert (event.action, event.outcome, event.beneficiary, event.detail["key"]) == (
        "search",
        "allowed",
        records.own,
        "mobile_name",
    )


@pytest.mark.django_db
def test_search_never_shows_out_of_scope_records_and_logs_them(world, records):
    key = search_key_parse(reference_id=records.far.reference_id)
    assert record_search(viewer=viewer(world.worker), purpose=PURPOSE, key=key).records == []
    event = last_event(world.worker)
    assert (event.outcome, event.detail["out_of_scope"], event.beneficiary) == ("out_of_scope", 1, None)


@pytest.mark.django_db
def test_search_results_are_capped(world, records, settings):
    for n in range(12):
        make_record(f"2000000000{n:04d}", world.facility, name="Asha Verma", mobile="+919000000001")
    found = record_search(
        viewer=viewer(world.worker), purpose=PURPOSE, key=search_key_parse(mobile="9000000001", name="Asha Verma")
    )
    assert len(found.records) == settings.PRAHARI_SEARCH_MAX_RESULTS == 10 and found.more
    assert last_event(world.worker).detail["results"] == 10


# --- Budget ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_300th_look_up_is_allowed_and_the_301st_refused(world, records, settings):
    assert settings.PRAHARI_DAILY_VIEW_BUDGET == 300
    for _ in range(299):
        view(world.worker, records.own)
    key = search_key_parse(reference_id=records.own.reference_id)
    assert record_search(viewer=viewer(world.worker), purpose=PURPOSE, key=key).records  # searches count too: 300th
    assert not Alert.objects.exists()
    with pytest.raises(BudgetExhausted, match="300 record look-ups"):
        view(world.worker, records.own)
    assert last_event(world.worker).outcome == "over_budget"
    alert = Alert.objects.get()
    assert (alert.rule, alert.severity, alert.subject, alert.evidence["budget"]) == (
        "daily_budget",
        Alert.Severity.HIGH,
        world.worker,
        300,
    )
    with pytest.raises(BudgetExhausted):  # refused again, but alerted only once a day
        view(world.worker, records.own)
    assert Alert.objects.count() == 1
    assert AccessEvent.objects.filter(actor=world.worker, outcome="allowed").count() == 300
    assert view(world.colleague, records.own)  # a colleague's budget is their own
    with freeze_time(timezone.now() + timedelta(days=1)):
        assert view(world.worker, records.own)  # a new day, a new budget


# --- Reveals ---------------------------------------------------------------------------------------------


def reveal(user, record, *, stepped_up=True, reason="caller asked for her card", field_name="id_number"):
    return record_reveal(
        viewer=viewer(user),
        reference_id=record.reference_id,
        field_name=field_name,
        purpose=PURPOSE,
        reason=reason,
        stepped_up=stepped_up,
    )


@pytest.mark.django_db
def test_a_reveal_needs_a_step_up_and_a_reason(world, records):
    with pytest.raises(StepUpRequired):
        reveal(world.worker, records.own, stepped_up=False)
    with pytest.raises(DomainError):
        reveal(world.worker, records.own, reason=" ")
    with pytest.raises(LookupRefused):
        reveal(world.worker, records.own, field_name="name")
    assert not AccessEvent.objects.exists()
    assert reveal(world.worker, records.own) == "123412345678"
    assert reveal(world.worker, records.own, field_name="mobile") == "+919876500001"
    event = last_event(world.worker)
    assert (event.action, event.outcome, event.detail) == (
        "reveal",
        "allowed",
        {"field": "mobile", "reason": "caller asked for her card"},
    )


@pytest.mark.django_db
def test_twenty_reveals_a_day(world, records, settings):
    assert settings.PRAHARI_DAILY_REVEAL_LIMIT == 20
    for _ in range(20):
        reveal(world.worker, records.own)
    with pytest.raises(RevealRefused, match="20 reveals"):
        reveal(world.worker, records.own)
    assert last_event(world.worker).outcome == "refused"
    with pytest.raises(RecordUnavailable):
        reveal(world.worker, records.far)  # out of scope stays out of scope


# --- Canaries --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["view", "reveal"])
def test_opening_a_canary_suspends_at_once(world, records, how):
    UserSession.objects.create(
        session_key="k" * 40, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=world.worker
    )
    with pytest.raises(AccessInterrupted) as refusal:
        view(world.worker, records.canary) if how == "view" else reveal(world.worker, records.canary)
    assert "canary" not in str(refusal.value).lower()  # the worker sees nothing that names the trap
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.CANARY)
    assert not UserSession.objects.filter(user=world.worker).exists()
    alert = Alert.objects.get(subject=world.worker)
    assert (alert.rule, alert.severity, alert.evidence["record"]) == (
        "canary",
        Alert.Severity.CRITICAL,
        "10000000000005",
    )
    event = last_event(world.worker)
    assert (event.action, event.outcome, event.beneficiary) == (how, "canary", records.canary)
    assert alert.evidence["access_event"] == event.pk
    history = world.worker.history.latest("history_date")
    assert history.history_user == world.system and "canary record 10000000000005" in history.history_change_reason
    assert world.worker.events_as_subject.filter(type=AccountEventType.USER_SUSPENDED).exists()


@pytest.mark.django_db
def test_a_canary_out_of_scope_trips_too(world, records):
    far_canary = make_record("10000000000006", world.far_facility, is_canary=True)
    with pytest.raises(AccessInterrupted):
        view(world.worker, far_canary)
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED


@pytest.mark.django_db
def test_search_listing_a_canary_does_not_trip(world, records):
    key = search_key_parse(mobile="9876500005", name="Kavita Mishra")
    assert [r.reference_id for r in record_search(viewer=viewer(world.worker), purpose=PURPOSE, key=key).records] == [
        "10000000000005"
    ]
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE


# --- Fail closed -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_event_no_record(world, records):
    with access_log_broken(), pytest.raises(AccessLogUnavailable, match="Nothing was shown"):
        view(world.worker, records.own)
    assert not AccessEvent.objects.exists()
    from records.models import AccessChainHead

    assert not AccessChainHead.objects.filter(actor=world.worker, seq__gt=0).exists()  # nothing half-written
    assert view(world.worker, records.own).name == "Sunita Yadav"  # and the chain goes on once the log is back
    assert verify().problem is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_look_ups_never_pass_the_budget(world, records, settings):
    """Sixteen requests of one worker at once, with five look-ups left: exactly five are served."""
    import threading

    from django.db import connections

    settings.PRAHARI_DAILY_VIEW_BUDGET = 5
    outcomes, start = [], threading.Barrier(16)

    def request():
        try:
            start.wait(30)
            view(world.worker, records.own)
            outcomes.append("allowed")
        except BudgetExhausted:
            outcomes.append("refused")
        except Exception as error:  # reported below
            outcomes.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["allowed"] * 5 + ["refused"] * 11
    assert Alert.objects.filter(rule="daily_budget").count() == 1
    assert verify().problem is None


@pytest.mark.parametrize("record_scope", ["facility", "district"])
def test_the_record_check_and_the_record_list_agree_for_every_viewer(world, records, settings, record_scope):
    """One rule (accounts.scoping.record_jurisdiction) behind both: the read path's check of a record it
    loaded, and the console's list of records in scope."""
    from records.changes import records_in_scope
    from records.services import in_scope

    settings.PRAHARI_RECORD_SCOPE = record_scope
    every = [*records, records.canary]
    expected = {
        "worker": {records.own, records.canary} | ({records.same_district} if record_scope == "district" else set()),
        "supervisor": {records.own, records.canary, records.same_district},
        "state_admin": {records.own, records.canary, records.same_district, records.far},
        "system": set(),
        "far_worker": {records.far},  # his own facility, the only one of his district with records
    }
    for name, readable in expected.items():
        user = getattr(world, name)
        assert {r for r in every if in_scope(user, r)} == readable, name
        assert set(records_in_scope(user)) == readable, name
