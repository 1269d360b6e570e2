"""Explained access: the `explain` job ties allowed look-ups to appointments, doses and consents, with
purposes that fit; the read path asks the same rules about a look-up it is about to make."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from freezegun import freeze_time

from governance.explain import judged_up_to
from governance.jobs import job_run
from records.audit import access_event_append
from records.explain import _EXPLAIN_EVENTS, explanation_for, explanation_parameters
from records.keys import Purpose
from records.models import AccessEvent, AccessExplanation, Appointment, Consent, Dose
from tests.records.conftest import make_record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)  # 10:00 in Asia/Kolkata
DAY = timedelta(days=1)
Kind = AccessExplanation.Kind


@pytest.fixture
def people(world):
    return make_record("20000000000001", world.facility), make_record("20000000000002", world.facility)


def look(worker, record, *, purpose=Purpose.DUE_DOSE, at=T0, action="view", outcome="allowed") -> AccessEvent:
    with freeze_time(at):
        return access_event_append(actor=worker, action=action, outcome=outcome, purpose=purpose, beneficiary=record)


def run(at=T0 + timedelta(hours=1)) -> dict:
    with freeze_time(at):
        return job_run("explain", now=at)


def explained(event) -> str | None:
    return AccessExplanation.objects.filter(event=event).values_list("kind", flat=True).first()


def appointment(record, facility, day: date, status=Appointment.Status.SCHEDULED):
    return Appointment.objects.create(beneficiary=record, facility=facility, date=day, status=status)


def dose(record, facility, day: date, *, by=None):
    return Dose.objects.create(
        beneficiary=record, vaccine="Measles", dose_number=1, given_on=day, facility=facility, administered_by=by
    )


def consent(record, worker, *, given=T0 - timedelta(minutes=5), until=T0 + timedelta(hours=8)):
    return Consent.objects.create(
        beneficiary=record,
        worker=worker,
        mobile=record.mobile,
        code_hash="",
        code_expires_at=given,
        given_at=given,
        valid_until=until,
    )


LOCAL = date(2026, 11, 3)


@pytest.mark.parametrize(
    ("day", "status", "kind"),
    [
        (LOCAL + timedelta(days=7), Appointment.Status.SCHEDULED, Kind.APPOINTMENT),  # due within a week
        (LOCAL - timedelta(days=7), Appointment.Status.MISSED, Kind.APPOINTMENT),  # missed last week
        (LOCAL + timedelta(days=8), Appointment.Status.SCHEDULED, None),  # too far ahead
        (LOCAL, Appointment.Status.CANCELLED, None),
    ],
)
def test_an_appointment_at_the_workers_facility_explains_a_due_dose_look_up(world, people, day, status, kind):
    own, _ = people
    appointment(own, world.facility, day, status)
    event = look(world.worker, own)
    assert run()["explained"] == ({kind: 1} if kind else {})
    assert explained(event) == kind


def test_an_appointment_at_another_facility_explains_nothing(world, people):
    own, _ = people
    appointment(own, world.other_facility, LOCAL)
    event = look(world.worker, own)
    run()
    assert explained(event) is None


@pytest.mark.parametrize(
    ("facility", "by", "days_before", "kind"),
    [
        ("facility", None, 30, Kind.DOSE),  # given at the worker's facility within 30 days
        ("other_facility", "worker", 3, Kind.DOSE),  # given by the worker elsewhere
        ("other_facility", None, 3, None),  # given elsewhere by someone else
        ("facility", None, 31, None),  # too long ago
        ("facility", None, -1, None),  # tomorrow's dose explains nothing today
    ],
)
def test_a_dose_explains_a_certificate_look_up(world, people, facility, by, days_before, kind):
    own, _ = people
    dose(own, getattr(world, facility), LOCAL - timedelta(days=days_before), by=getattr(world, by) if by else None)
    event = look(world.worker, own, purpose=Purpose.CERTIFICATE)
    run()
    assert explained(event) == kind


def test_consent_explains_a_look_up_the_beneficiary_asked_for_and_only_for_that_worker(world, people):
    own, _ = people
    consent(own, world.worker)
    mine = look(world.worker, own, purpose=Purpose.BENEFICIARY_REQUEST)
    colleagues = look(world.colleague, own, purpose=Purpose.BENEFICIARY_REQUEST)
    later = look(world.worker, own, purpose=Purpose.BENEFICIARY_REQUEST, at=T0 + timedelta(hours=9))
    run(T0 + timedelta(hours=10))
    assert (explained(mine), explained(colleagues), explained(later)) == (Kind.CONSENT, None, None)


@pytest.mark.parametrize(
    ("purpose", "kind"),
    [
        (Purpose.BENEFICIARY_REQUEST, None),  # "asked in person" is explained by consent only
        (Purpose.ADVERSE_EVENT, None),  # an appointment does not explain an adverse event follow-up
        (Purpose.SESSION_PLANNING, Kind.APPOINTMENT),
    ],
)
def test_the_purpose_must_fit_the_explanation(world, people, purpose, kind):
    own, _ = people
    appointment(own, world.facility, LOCAL)
    event = look(world.worker, own, purpose=purpose)
    run()
    assert explained(event) == kind


def test_only_allowed_views_and_reveals_are_explained(world, people):
    own, _ = people
    appointment(own, world.facility, LOCAL)
    view, reveal = look(world.worker, own), look(world.worker, own, action="reveal")
    refused = look(world.worker, own, outcome="over_budget")
    search = look(world.worker, own, action="search")
    run()
    assert [explained(e) for e in (view, reveal, refused, search)] == [Kind.APPOINTMENT, Kind.APPOINTMENT, None, None]


def test_an_appointment_booked_after_the_look_up_explains_it_at_a_later_run(world, people):
    own, _ = people
    event = look(world.worker, own)
    first = run()
    assert explained(event) is None and judged_up_to() == event.pk == first["judged_up_to"]
    appointment(own, world.facility, LOCAL + timedelta(days=2))
    assert run(T0 + 2 * DAY)["explained"] == {Kind.APPOINTMENT: 1}
    assert explained(event) == Kind.APPOINTMENT


def test_the_anomalies_job_judges_new_look_ups_and_leaves_the_second_look_to_this_job(world, people):
    own, _ = people
    first = look(world.worker, own)
    run()  # judged: unexplained
    appointment(own, world.facility, LOCAL + timedelta(days=2))
    later = look(world.worker, own, at=T0 + 2 * DAY)
    with freeze_time(T0 + 2 * DAY + timedelta(hours=1)):
        job_run("anomalies", now=T0 + 2 * DAY + timedelta(hours=1))
    assert (explained(first), explained(later)) == (None, Kind.APPOINTMENT)  # the new one only
    assert run(T0 + 2 * DAY + timedelta(hours=2))["explained"] == {Kind.APPOINTMENT: 1}
    assert explained(first) == Kind.APPOINTMENT


def test_runs_are_idempotent_and_a_fixed_number_of_statements(world, people, django_assert_max_num_queries):
    own, other = people
    run(T0 - DAY)  # the first run creates the job's watermark
    appointment(own, world.facility, LOCAL)
    appointment(other, world.facility, LOCAL)
    for record in (own, other, own):
        look(world.worker, record)
    with django_assert_max_num_queries(12) as few:
        assert run()["explained"] == {Kind.APPOINTMENT: 3}
    for n in range(20):
        look(world.colleague, own if n % 2 else other, at=T0 + timedelta(minutes=n))
    with django_assert_max_num_queries(12) as many:
        run()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert AccessExplanation.objects.count() == 23  # the colleague works at the same facility
    assert run()["explained"] == {} and AccessExplanation.objects.count() == 23


def test_the_read_path_asks_the_same_rules(world, people, django_assert_num_queries):
    own, other = people
    appointment(own, world.facility, LOCAL)
    at = T0
    with django_assert_num_queries(1):
        found = explanation_for(worker=world.worker, beneficiary=own, purpose=Purpose.DUE_DOSE, at=at)
    assert found is not None and found[0] == Kind.APPOINTMENT
    assert explanation_for(worker=world.worker, beneficiary=other, purpose=Purpose.DUE_DOSE, at=at) is None
    assert explanation_for(worker=world.worker, beneficiary=own, purpose=Purpose.ADVERSE_EVENT, at=at) is None


def test_a_slow_extractor_is_flagged_on_the_first_day_and_an_honest_worker_is_not(world):
    """250 records a day at a human pace in working hours stay under every other rule; only the
    unexplained look-ups give them away. A colleague reading the due list of the same day does not."""
    from accounts.models import Alert
    from tests.governance.test_anomalies import log, times

    people = [make_record(f"4{n:013d}", world.facility) for n in range(250)]
    due = people[:40]
    for record in due:
        appointment(record, world.facility, LOCAL)
    start = T0 - timedelta(hours=0, minutes=30)  # 09:30 local
    for n, at in enumerate(times(250, start=start, gaps=(60, 150, 90, 200, 75))):  # ~8 hours, irregular
        log(world.worker, [at], beneficiary=people[n])
    for n, at in enumerate(times(40, start=start, gaps=(400, 700, 650))):
        log(world.colleague, [at], beneficiary=due[n])
    with freeze_time(T0 + timedelta(hours=10)):
        summary = job_run("anomalies", now=T0 + timedelta(hours=10))
    assert set(summary["alerts"]) == {"unexplained_views", "unexplained_views_week"}, summary
    day, week = Alert.objects.get(rule="unexplained_views"), Alert.objects.get(rule="unexplained_views_week")
    assert day.subject_id == week.subject_id == world.worker.pk
    assert day.evidence["count"] == week.evidence["count"] == 210  # 40 of the 250 were due that day
    assert summary["suspended"] == 1  # the week's limit is passed on the first day: suspended at once
    assert AccessExplanation.objects.filter(actor=world.colleague).count() == 40


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_a_first_run_over_many_look_ups_never_rereads_the_table_it_fills(world, people):
    """On a first run the explanations table is empty and planned as empty: asking each look-up whether it is
    already explained would scan the rows the statement has written so far, once per look-up."""
    own, other = people
    appointment(own, world.facility, LOCAL)
    for n in range(30):
        look(world.worker, own if n % 2 else other, at=T0 + timedelta(minutes=n))
    parameters = explanation_parameters(lo=0, hi=AccessEvent.objects.latest("pk").pk, since=T0 - 7 * DAY, now=T0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {AccessExplanation._meta.db_table}")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {_EXPLAIN_EVENTS}", parameters)
        plan = cursor.fetchone()[0][0]["Plan"]
        transaction.set_rollback(True)
    reads = [
        node
        for node in plan_nodes(plan)
        if node.get("Relation Name") == AccessExplanation._meta.db_table and node["Node Type"] != "ModifyTable"
    ]
    assert plan["Actual Rows"] == 15  # the statement did its work: the look-ups of `own` are explained
    assert all(node["Actual Loops"] <= 1 for node in reads), reads
