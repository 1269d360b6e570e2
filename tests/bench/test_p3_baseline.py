"""Benchmark P3's baseline (bench/_p3_baseline.py) finds exactly the anomalies job's hits, on P3's own data.

The data (bench/_p3_data.py) at a tiny size: 100 workers, two of each case, so every rule the job runs fires,
and the crafted cases sit on either side of each threshold and window edge. Both sides are checked against
each other rule by rule (account, severity, window, count), and the edges against what the rules say.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from django.utils import timezone

from accounts.models import Alert
from bench._p3_baseline import SEVERITY, baseline_hits
from bench._p3_data import P3Data, p3_make
from governance.jobs import job_run
from governance.rules.registry import SCORED
from records.audit import pace
from records.models import AccessEvent, AccessExplanation, AnomalyWatermark

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 3)  # the scored day, a Tuesday
NOW = timezone.make_aware(datetime.combine(date(2026, 11, 4), time(9)))  # the next morning, 09:00 local

# Crafted cases: (case, rule, whether the case's accounts have a hit of that rule).
EDGES = [
    ("burst_exactly_limit", "volume_burst", False),  # 60 views in 590 seconds
    ("burst_ten_minutes_exactly", "volume_burst", True),  # 61 views, the first exactly 600 seconds before the last
    ("burst_old_and_new", "volume_burst", True),  # 40 scored by an earlier run, 25 new, within 10 minutes
    ("cadence_cv_just_above", "cadence", False),  # 30 requests, gaps 17/23 s from 17: variation 15.06%
    ("cadence_cv_just_below", "cadence", True),  # from 23: 14.91%
    ("cadence_zero_gaps", "cadence", True),  # 30 requests at one instant
    ("night_from_its_first_second", "night_views", True),  # 10 views and one at 22:00:00.000
    ("night_ends_before_six", "night_views", False),  # 10 views, one more at 06:00:00.000
    ("night_old_and_new", "night_views", True),  # 6 old and 5 new views of one night
    ("night_across_midnight", "night_views", True),  # 6 before midnight (old), 5 after
    ("many_ips_hour_exactly", "many_ips", True),  # three addresses, the first exactly 60 minutes before
    ("many_ips_hour_and_a_second", "many_ips", False),  # one second more
    ("many_ips_old_and_new", "many_ips", True),
    ("oos_two", "out_of_scope", False),
    ("oos_old_and_new", "out_of_scope", True),  # two before 05:00 (old), one after
    ("baseline_seven_days", "baseline_spike", True),  # 7 days of one view; a busier day 31 days before is out
    ("baseline_six_days", "baseline_spike", False),  # 6 days with a view, 3 with searches only
    ("baseline_at_percentile", "baseline_spike", False),  # 40 views; the 95th percentile of 21 days is 8
    ("baseline_over_percentile", "baseline_spike", True),  # 41 views
    ("unexplained_week", "unexplained_views", False),  # 20 on the day
    ("unexplained_week", "unexplained_views_week", True),  # 110 in seven days
    ("week_exactly_limit", "unexplained_views_week", False),  # 100 in seven days, 20 on the eighth before
    ("day_one_over", "unexplained_views", True),  # 21
    ("failed_four", "failed_logins", False),
    ("failed_ten_minutes_exactly", "failed_logins", True),  # the fifth exactly 10 minutes after the first
    ("failed_old_and_new", "failed_logins", True),
    ("canary", "canary", True),
    ("canary_old", "canary", False),  # opened before the watermark
]


@pytest.fixture
def made() -> P3Data:
    return p3_make(100, 100, day=DAY, prefix="p3test")


def _baseline(data: P3Data) -> list[tuple]:
    rows = baseline_hits(wm=data.wm, hi=data.hi, account_wm=data.account_wm, account_hi=data.account_hi, now=NOW)
    return sorted(tuple(row[:6]) for row in rows)


def _job() -> list[tuple]:
    """Run the job (for real) and read what it raised: (rule, account, severity, window in ms, count)."""
    last = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    job_run("anomalies", now=NOW)

    def ms(text: str) -> int:
        return round(datetime.fromisoformat(text).timestamp() * 1000)

    return sorted(
        (
            a.rule,
            a.subject_id,
            a.severity,
            ms(a.evidence["window_start"]),
            ms(a.evidence["window_end"]),
            a.evidence.get("count"),
        )
        for a in Alert.objects.filter(pk__gt=last)
    )


def test_the_baseline_names_every_rule_the_job_runs():
    assert set(SEVERITY) == {rule.name for rule in SCORED} | {"canary"}


def test_the_baseline_finds_the_jobs_hits_rule_by_rule(made):
    baseline = _baseline(made)  # first: the job's alerts would then hide them (already alerted)
    job = _job()
    for rule in sorted(SEVERITY):
        of_job, of_baseline = [h for h in job if h[0] == rule], [h for h in baseline if h[0] == rule]
        assert of_job, f"{rule} did not fire"
        assert of_baseline == of_job, rule
    assert len(job) == len(baseline)
    assert _baseline(made) == []  # once alerted, nothing is new for either


def test_the_edges_fall_where_the_rules_put_them(made):
    hit = {(row[0], row[1]) for row in _baseline(made)}
    for case, rule, expected in EDGES:
        accounts = made.cases[case]
        assert len(accounts) == 2
        assert [(rule, a) in hit for a in accounts] == [expected, expected], (case, rule)


def test_the_stored_pace_is_the_chains(made):
    """Both sides read each event's cadence figures: they are those records/audit.py `pace` gives its chain."""
    recent: dict[int, tuple] = {}
    checked = 0
    events = AccessEvent.objects.filter(actor_id__in=made.workers).order_by("actor_id", "actor_seq")
    for actor, at, mean, sd in events.values_list("actor_id", "created_at", "pace_mean", "pace_sd"):
        recent[actor], (want_mean, want_sd) = pace(recent.get(actor, ()), at)
        if want_mean is None:
            assert (mean, sd) == (None, None)
        else:
            assert mean == pytest.approx(want_mean, rel=1e-12)
            assert sd == pytest.approx(want_sd, rel=1e-9, abs=1e-9)
            checked += 1
    assert checked > 30_000


def test_the_explanations_are_the_explain_jobs(made):
    """The data's explanation rows are exactly those the `explain` job writes for the same look-ups."""
    made_rows = set(AccessExplanation.objects.values_list("event_id", flat=True))
    AccessExplanation.objects.all().delete()
    AnomalyWatermark.objects.filter(stream=AnomalyWatermark.Stream.EXPLANATIONS).update(last_id=made.before)
    job_run("explain", now=NOW)
    assert set(AccessExplanation.objects.values_list("event_id", flat=True)) == made_rows
    assert len(made_rows) > 20_000
