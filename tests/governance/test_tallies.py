"""The console's view tallies: every allowed view counted once, on India's day and week, by district and role."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from governance.jobs import job_run
from governance.models import DistrictViewDay, ReaderViewWeek
from records.audit import access_event_append
from records.models import AccessEvent

pytestmark = pytest.mark.django_db


def log(user, action="view", outcome="allowed", n=1, at=None):
    with freeze_time(at or datetime.now(UTC)):
        for _ in range(n):
            access_event_append(actor=user, action=action, outcome=outcome, purpose="due_dose")


def tallies():
    days = {(r.district_id, r.day, r.role): r.views for r in DistrictViewDay.objects.all()}
    weeks = {(r.district_id, r.week, r.actor_id): r.views for r in ReaderViewWeek.objects.all()}
    return days, weeks


def test_each_allowed_view_is_counted_once_whatever_the_number_of_runs(world):
    at = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday 11:30 in India
    log(world.worker, n=3, at=at)
    log(world.worker, action="search", at=at)
    log(world.worker, outcome="out_of_scope", at=at)
    log(world.supervisor, n=2, at=at)
    job_run("anomalies", now=at)
    job_run("anomalies", now=at)  # nothing new: nothing added
    day, week = date(2026, 11, 25), date(2026, 11, 23)
    assert tallies() == (
        {(world.district.pk, day, "worker"): 3, (world.district.pk, day, "supervisor"): 2},
        {(world.district.pk, week, world.worker.pk): 3, (world.district.pk, week, world.supervisor.pk): 2},
    )
    log(world.worker, n=2, at=at)
    log(world.far_worker, at=at)
    job_run("anomalies", now=at)
    days, weeks = tallies()
    assert days[world.district.pk, day, "worker"] == 5 and weeks[world.district.pk, week, world.worker.pk] == 5
    assert days[world.other_district.pk, day, "worker"] == 1


def test_days_and_weeks_are_indias(world):
    sunday_late = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Sunday 23:30 in India
    monday_early = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)  # Monday 00:30 in India
    log(world.worker, at=sunday_late)
    log(world.worker, n=2, at=monday_early)
    job_run("anomalies", now=monday_early)
    days, weeks = tallies()
    assert days == {
        (world.district.pk, date(2026, 11, 29), "worker"): 1,
        (world.district.pk, date(2026, 11, 30), "worker"): 2,
    }
    assert weeks == {
        (world.district.pk, date(2026, 11, 23), world.worker.pk): 1,
        (world.district.pk, date(2026, 11, 30), world.worker.pk): 2,
    }


def test_a_dry_run_counts_nothing(world):
    log(world.worker, n=2)
    job_run("anomalies", dry_run=True)
    assert tallies() == ({}, {})


def test_retention_drops_tallies_older_than_the_console_shows(world):
    now = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    old_day, kept_day = date(2026, 8, 26), date(2026, 8, 27)  # 91 and 90 days before 25 November
    old_week, kept_week = date(2026, 9, 21), date(2026, 9, 28)  # 9 and 8 weeks before the week of 23 November
    for day in (old_day, kept_day):
        DistrictViewDay.objects.create(district=world.district, day=day, role="worker", views=1)
    for week in (old_week, kept_week):
        ReaderViewWeek.objects.create(district=world.district, week=week, actor=world.worker, role="worker", views=1)
    summary = job_run("retention", now=now)
    assert summary["view_tally_rows"] == 2
    assert list(DistrictViewDay.objects.values_list("day", flat=True)) == [kept_day]
    assert list(ReaderViewWeek.objects.values_list("week", flat=True)) == [kept_week]


def test_the_rules_statement_tallies_each_allowed_view_on_its_indian_day_and_week(world):
    """The tallies are added inside the access-rules statement, from its grouping by account and local day; they
    hold what counting the events one by one gives: each allowed view on its day and Monday-to-Sunday week in
    India, under its reader's district (a supervisor's own, a worker's facility's) and role."""
    start = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # Friday 22:30 in India
    readers = (world.worker, world.colleague, world.far_worker, world.supervisor)
    for k in range(24):  # every 7 h 13 min for a week: across midnights and into the next week
        at = start + k * timedelta(hours=7, minutes=13)
        log(readers[k % 4], n=1 + k % 3, at=at)
        log(readers[(k + 1) % 4], outcome="out_of_scope" if k % 2 else "allowed", action="search", at=at)
    job_run("anomalies", now=start + timedelta(days=8))
    india = ZoneInfo("Asia/Kolkata")
    days, weeks = Counter(), Counter()
    for event in AccessEvent.objects.filter(action="view", outcome="allowed").select_related("actor__facility"):
        reader, day = event.actor, event.created_at.astimezone(india).date()
        district = reader.facility.district_id if reader.facility_id else reader.district_id
        days[district, day, reader.role] += 1
        weeks[district, day - timedelta(days=day.weekday()), reader.pk] += 1
    assert tallies() == (dict(days), dict(weeks))
    assert len(days) > 8 and len({week for _district, week, _actor in weeks}) == 2
