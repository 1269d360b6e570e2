"""The `anomalies` job: each rule at and just below its threshold, the watermark, idempotency, suspensions,
a fixed number of queries, and (PostgreSQL) no event skipped behind a slow writer."""

from __future__ import annotations

import statistics
import threading
from datetime import UTC, datetime, timedelta
from itertools import accumulate, cycle, islice

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, Alert, Notification, Status, SuspensionCause
from accounts.services.events import event_record
from governance.jobs import JOB_ORDER, JOBS, job_run
from governance.tasks import TASKS
from records.audit import access_event_append
from records.keys import Purpose
from records.models import AccessEvent, AnomalyWatermark
from records.services import AccessInterrupted, Viewer, record_get_for_viewer
from records.verification import verify
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)  # 10:00 in Asia/Kolkata, a Tuesday
IRREGULAR = (3, 12, 6, 15, 4)  # seconds between requests: mean 8, far from machine-like (CV 59%)


def times(n: int, *, start: datetime = T0, gaps=IRREGULAR, scale: float = 1.0) -> list[datetime]:
    """`n` instants from `start`, the gaps between them cycling through `gaps` (× `scale`)."""
    steps = [0.0, *(g * scale for g in islice(cycle(gaps), n - 1))]
    return [start + timedelta(seconds=s) for s in accumulate(steps)]


def log(
    actor, instants, *, action="view", outcome="allowed", ip="10.0.0.7", ips=None, beneficiary=None
) -> list[AccessEvent]:
    """Append one access event per instant, the clock frozen at each (so the hash chain covers the time)."""
    events = []
    with freeze_time(instants[0]) as clock:
        for n, at in enumerate(instants):
            clock.move_to(at)
            events.append(
                access_event_append(
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    purpose=Purpose.DUE_DOSE,
                    ip_address=ips[n] if ips else ip,
                    beneficiary=beneficiary,
                )
            )
    return events


def failures(subject, instants, ip="10.9.9.9") -> list[AccountEvent]:
    events = []
    with freeze_time(instants[0]) as clock:
        for n, at in enumerate(instants):
            clock.move_to(at)
            kind = AccountEventType.OTP_FAILED if n % 2 else AccountEventType.LOGIN_FAILED
            events.append(event_record(type=kind, actor=None, subject=subject, ip=ip))
    return events


def run(at: datetime | None = None, **kwargs) -> dict:
    at = at or T0 + timedelta(days=1)
    with freeze_time(at):
        return job_run("anomalies", now=at, **kwargs)


def alerts(rule: str) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule).order_by("pk"))


def status(user) -> str:
    user.refresh_from_db()
    return user.status


# --- Registration -------------------------------------------------------------------------------------


def test_the_job_is_registered_between_dormancy_and_retention_with_a_task():
    assert "anomalies" in JOBS
    assert JOB_ORDER.index("dormancy") < JOB_ORDER.index("anomalies") < JOB_ORDER.index("retention")
    assert TASKS["anomalies"].name == "governance.anomalies"


# --- Volume burst (high: suspends) ----------------------------------------------------------------------


def test_61_views_within_10_minutes_raise_a_high_alert_with_evidence_and_suspend(world):
    events = log(world.worker, times(61))  # 480 seconds
    with translation.override("hi"):  # whoever's language the run happens in, the evidence is stored in English
        summary = run()
    [alert] = alerts("volume_burst")
    assert (alert.severity, alert.subject, alert.status) == (Alert.Severity.HIGH, world.worker, "open")
    evidence = alert.evidence
    assert (evidence["count"], evidence["threshold"], evidence["minutes"]) == (61, 60, 10)
    assert evidence["events"] == [e.pk for e in events[:50]] and evidence["events_in_window"] == 61
    assert evidence["window_end"] == "2026-11-03T10:08:00.000+05:30"  # the 61st view, local time
    assert evidence["window_start"] == "2026-11-03T09:58:00.000+05:30"
    assert "61 record views within 10 minutes" in evidence["summary"]
    assert summary["alerts"] == {"volume_burst": 1} and summary["suspended"] == 1
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.ANOMALY)
    history = alert.history.get()
    assert history.history_user == world.system and history.history_change_reason == "raised by rule volume_burst"


@pytest.mark.parametrize(
    ("views", "scale"),
    [(60, 1.0), (61, 1.32)],  # 60 in 8 minutes; 61 spread over 10 min 34 s (never 61 within 10 minutes)
)
def test_no_burst_at_60_views_or_when_61_take_longer_than_10_minutes(world, views, scale):
    log(world.worker, times(views, scale=scale))
    summary = run()
    assert summary["alerts"] == {} and summary["events_scored"] == views
    assert status(world.worker) == Status.ACTIVE


def test_a_burst_across_the_hour_is_counted_whole(world):
    """The rule first rules out accounts by their views per clock hour (a window spans at most two, so an account
    whose busiest hour holds at most half the limit has no burst): a burst split 38 / 23 across an hour
    boundary, neither part over the limit, is still counted window by window."""
    start = datetime(2026, 11, 3, 4, 55, tzinfo=UTC)  # 10:25 local; the UTC hour (the bucket) ends at 05:00
    instants = times(61, start=start)  # 480 seconds: to 05:03
    assert sum(at.hour == 4 for at in instants) == 38
    log(world.worker, instants)
    assert run()["alerts"] == {"volume_burst": 1}
    assert alerts("volume_burst")[0].evidence["count"] == 61


def test_overlapping_burst_windows_make_one_alert(world):
    log(world.worker, times(120))  # 16 minutes of bursting: every window from the 61st view on is over
    run()
    [alert] = alerts("volume_burst")
    assert alert.evidence["count"] > 61 and alert.evidence["events_in_window"] == 120


# --- Baseline spike (medium) ------------------------------------------------------------------------------

HISTORY = (4, 10, 6, 8, 10, 9, 7)  # views on 7 earlier days: 95th percentile (nearest rank) 10


def history(worker, counts=HISTORY) -> None:
    for back, count in reversed(list(enumerate(counts, start=1))):  # oldest first, as a chain is written
        log(worker, times(count, start=T0 - timedelta(days=back), gaps=(70, 130, 95)))


@pytest.mark.parametrize(("views", "fires"), [(50, False), (51, True)])
def test_a_day_above_5x_the_95th_percentile_is_flagged(world, views, fires):
    history(world.worker)
    log(world.worker, times(views, gaps=(70, 130, 95)))
    summary = run()
    found = alerts("baseline_spike")
    assert len(found) == int(fires) and summary["suspended"] == 0
    if fires:
        evidence = found[0].evidence
        assert (evidence["count"], evidence["baseline"], evidence["threshold"], evidence["history_days"]) == (
            51,
            10,
            50,
            7,
        )
        assert evidence["window_start"] == "2026-11-03T00:00:00.000+05:30"
        assert evidence["window_end"] == "2026-11-03T23:59:59.999+05:30"
        assert found[0].severity == Alert.Severity.MEDIUM and status(world.worker) == Status.ACTIVE
        assert Notification.objects.filter(kind="governance_digest", context__action="flagged").exists()


def test_no_baseline_with_fewer_than_7_days_of_history(world):
    history(world.worker, HISTORY[:6])
    log(world.worker, times(80, gaps=(70, 130, 95)))
    assert run()["alerts"] == {}


# --- Out of scope (medium) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offsets_hours", "fires"),
    [((0, 2, 5), True), ((0, 2), False), ((0, 2, 14.5), False)],  # 14.5 h after 10:00 is the next local day
)
def test_three_out_of_scope_attempts_in_a_local_day(world, offsets_hours, fires):
    log(world.worker, [T0 + timedelta(hours=h) for h in offsets_hours], outcome="out_of_scope")
    run()
    found = alerts("out_of_scope")
    assert len(found) == int(fires)
    if fires:
        assert (found[0].evidence["count"], found[0].evidence["threshold"]) == (3, 3)
        assert len(found[0].evidence["events"]) == 3 and found[0].severity == Alert.Severity.MEDIUM


# --- Night views (medium) -------------------------------------------------------------------------------

NIGHT = datetime(2026, 11, 3, 17, 0, tzinfo=UTC)  # 22:30 local


@pytest.mark.parametrize(
    ("start", "views", "fires"),
    [
        (NIGHT, 11, True),  # 22:30 to 04:20, across midnight
        (NIGHT, 10, False),
        (NIGHT - timedelta(minutes=31), 11, False),  # the first at 21:59: 10 at night
    ],
)
def test_more_than_10_views_between_22_and_6(world, start, views, fires):
    log(world.worker, times(views, start=start, gaps=(1800, 2400, 1500)))
    run(NIGHT + timedelta(days=1))
    found = alerts("night_views")
    assert len(found) == int(fires)
    if fires:
        evidence = found[0].evidence
        assert (evidence["count"], evidence["threshold"], len(evidence["events"])) == (11, 10, 11)
        assert (evidence["window_start"], evidence["window_end"]) == (
            "2026-11-03T22:00:00.000+05:30",
            "2026-11-04T05:59:59.999+05:30",
        )


# --- Cadence (high: suspends) ------------------------------------------------------------------------------


def cv(gaps) -> float:
    return statistics.pstdev(gaps) / statistics.mean(gaps)


@pytest.mark.parametrize(
    ("requests", "gaps", "fires"),
    [
        (30, (20,), True),  # every 20 seconds exactly
        (30, (17.3, 22.7), True),  # varying 13.5%
        (30, (16.8, 23.2), False),  # varying 16%
        (29, (20,), False),  # one request short
    ],
)
def test_30_requests_at_a_machine_like_pace(world, requests, gaps, fires):
    assert (cv(list(islice(cycle(gaps), requests - 1))) < 0.15) == (len(gaps) == 1 or gaps[0] == 17.3)
    events = log(world.worker, times(requests, gaps=gaps), action="search")
    summary = run()
    found = alerts("cadence")
    assert len(found) == int(fires)
    assert status(world.worker) == (Status.SUSPENDED if fires else Status.ACTIVE)
    if fires:
        evidence = found[0].evidence
        assert found[0].severity == Alert.Severity.HIGH and summary["suspended"] == 1
        assert (evidence["count"], evidence["threshold"], evidence["events"]) == (30, 15, [e.pk for e in events])
        assert evidence["mean_gap_seconds"] == pytest.approx(20, abs=0.1)


def test_cadence_counts_requests_scored_in_an_earlier_run(world):
    first = log(world.worker, times(20, gaps=(20,)), action="search")
    run(T0 + timedelta(minutes=7))
    log(world.worker, times(10, start=first[-1].created_at + timedelta(seconds=20), gaps=(20,)))
    assert run(T0 + timedelta(minutes=11))["alerts"] == {"cadence": 1}


# --- Many IPs (medium) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "fires"), [(55, True), (61, False)])
def test_three_ips_within_an_hour(world, minutes, fires):
    instants = [T0, T0 + timedelta(minutes=minutes / 2), T0 + timedelta(minutes=minutes)]
    log(world.worker, instants, ips=["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    run()
    found = alerts("many_ips")
    assert len(found) == int(fires)
    if fires:
        assert found[0].evidence["ips"] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        assert (found[0].evidence["count"], found[0].evidence["threshold"]) == (3, 3)


# --- Canary -------------------------------------------------------------------------------------------


def test_a_canary_tripped_on_the_read_path_is_not_alerted_again(world, records):
    with pytest.raises(AccessInterrupted):
        record_get_for_viewer(
            viewer=Viewer(user=world.worker, ip="10.0.0.7"),
            reference_id=records.canary.reference_id,
            purpose=Purpose.DUE_DOSE,
        )
    assert len(alerts("canary")) == 1
    summary = job_run("anomalies")
    assert summary["canary_already_alerted"] == 1 and summary["alerts"] == {} and len(alerts("canary")) == 1


def test_a_canary_access_without_an_alert_gets_a_critical_one_and_suspends(world, records):
    [event] = log(world.worker, [T0], outcome="canary")
    summary = run()
    [alert] = alerts("canary")
    assert alert.severity == Alert.Severity.CRITICAL and alert.evidence["access_event"] == event.pk
    assert summary["suspended"] == 1 and status(world.worker) == Status.SUSPENDED
    assert run(T0 + timedelta(days=2))["alerts"] == {}


# --- Failed logins (medium) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "fires"), [(5, True), (4, False)])
def test_five_failed_logins_within_10_minutes(world, count, fires):
    events = failures(world.worker, times(count, gaps=(100, 130)))
    failures(None, times(8, gaps=(5,)))  # unknown usernames: nobody to alert about
    summary = run()
    found = alerts("failed_logins")
    assert len(found) == int(fires) and summary["account_events_scored"] >= count + 8
    if fires:
        evidence = found[0].evidence
        assert (evidence["count"], evidence["threshold"], evidence["minutes"]) == (5, 5, 10)
        assert evidence["events"] == [e.pk for e in events] and evidence["ips"] == ["10.9.9.9"]
        assert status(world.worker) == Status.ACTIVE


# --- Watermark, idempotency, dry runs -----------------------------------------------------------------------


def test_the_watermark_scores_each_event_once_and_counts_the_earlier_ones(world):
    first = log(world.worker, times(40))
    one = run(T0 + timedelta(minutes=6))
    assert one["events_scored"] == 40 and one["alerts"] == {}
    mark = AnomalyWatermark.objects.get(stream="access_events")
    assert mark.last_id == first[-1].pk
    second = log(world.worker, times(21, start=first[-1].created_at + timedelta(seconds=4)))
    two = run(T0 + timedelta(minutes=10))
    assert two["events_scored"] == 21 and two["alerts"] == {"volume_burst": 1}  # 40 + 21 within 10 minutes
    assert AnomalyWatermark.objects.get(stream="access_events").last_id == second[-1].pk
    assert run(T0 + timedelta(minutes=12))["events_scored"] == 0


def test_a_second_run_raises_and_sends_nothing(world):
    log(world.worker, times(61))
    log(world.colleague, [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)], outcome="out_of_scope")
    first = run()
    notes, events, alerts_before = Notification.objects.count(), AccountEvent.objects.count(), Alert.objects.count()
    assert first["alerts"] == {"out_of_scope": 1, "volume_burst": 1} and notes
    second = run(T0 + timedelta(days=1, minutes=5))
    assert second["alerts"] == {} and second["suspended"] == 0 and second["flagged"] == 0
    assert (Notification.objects.count(), AccountEvent.objects.count(), Alert.objects.count()) == (
        notes,
        events,
        alerts_before,
    )


def test_rescoring_the_same_events_never_alerts_twice(world):
    """If the watermark went back (a restore), overlapping windows still match their earlier alerts."""
    log(world.worker, times(61))
    log(world.colleague, times(30, gaps=(20,)), action="search")
    run()
    AnomalyWatermark.objects.update(last_id=0)
    log(world.worker, times(5, start=T0 + timedelta(minutes=8, seconds=30)))  # the burst goes on
    summary = run(T0 + timedelta(days=1, minutes=5))
    assert summary["alerts"] == {} and Alert.objects.count() == 2


def test_a_dry_run_keeps_nothing(world):
    log(world.worker, times(61))
    summary = run(dry_run=True)
    assert summary["alerts"] == {"volume_burst": 1} and summary["dry_run"] is True
    assert not Alert.objects.exists() and status(world.worker) == Status.ACTIVE
    assert not AnomalyWatermark.objects.filter(last_id__gt=0).exists()


def test_a_high_alert_suspends_as_the_system_with_history_an_event_and_one_digest(world):
    log(world.worker, times(61))
    log(world.colleague, times(30, gaps=(20,)), action="search")
    run()
    for user in (world.worker, world.colleague):
        user.refresh_from_db()
        assert (user.status, user.suspension_cause) == (Status.SUSPENDED, SuspensionCause.ANOMALY)
        history = user.history.order_by("-history_id").first()  # the clock is frozen before the account was made
        assert history.history_user == world.system and "governance job anomalies" in history.history_change_reason
        event = AccountEvent.objects.get(subject=user, type=AccountEventType.USER_SUSPENDED)
        assert event.actor == world.system and event.data["cause"] == "anomaly"
        assert Notification.objects.filter(kind="account_suspended", user=user).exists()
    digests = Notification.objects.filter(kind="governance_digest", channel="sms")
    assert sorted(d.user.username for d in digests) == ["dio.lucknow", "dio2.lucknow"]
    assert all(d.context == {"action": "suspended", "count": 2, "names": "asha, ravi"} for d in digests)


def test_the_chain_stays_verifiable(world):
    log(world.worker, times(61))
    log(world.worker, times(3, start=T0 + timedelta(hours=3)), outcome="out_of_scope")
    run()
    assert verify().problem is None and verify().checked == 64


# --- Set-based ----------------------------------------------------------------------------------------------


def _population(world, n: int) -> None:
    """`n` bursting workers (high: suspended) and `n` with out-of-scope attempts (medium: flagged)."""
    for k in range(n):
        log(WorkerFactory(facility=world.facility), times(61, start=T0 + timedelta(hours=k % 5)))
        log(
            WorkerFactory(facility=world.facility),
            [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)],
            outcome="out_of_scope",
        )


def test_queries_do_not_grow_with_workers_or_events(world):
    run()  # the first run creates the watermark rows (the test database was flushed)
    counts = []
    for day, n in enumerate((2, 6), start=1):
        _population(world, n)
        with CaptureQueriesContext(connection) as queries:
            summary = run(T0 + timedelta(days=day))
        assert (summary["suspended"], summary["flagged"], summary["events_scored"]) == (n, n, 64 * n)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- PostgreSQL: a writer older than the run ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_with_a_lower_id_is_not_skipped(world, settings):
    settings.PRAHARI_ANOMALY_WRITER_WAIT_SECONDS = 0
    appended, release, done = threading.Event(), threading.Event(), {}

    def slow_writer():
        try:
            with transaction.atomic():
                done["slow"] = access_event_append(actor=world.colleague, action="view", outcome="allowed")
                appended.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert appended.wait(30)
        fast = access_event_append(actor=world.worker, action="view", outcome="allowed")
        assert fast.pk > done["slow"].pk
        held = job_run("anomalies")
        assert "held_back" in held and AnomalyWatermark.objects.get(stream="access_events").last_id == 0
    finally:
        release.set()
        thread.join(30)
    summary = job_run("anomalies")
    assert summary["events_scored"] == 2
    assert AnomalyWatermark.objects.get(stream="access_events").last_id == fast.pk
