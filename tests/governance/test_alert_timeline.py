"""The alert page's window: its grouped figures (counted in SQL), its server-drawn timeline, the events
listed once, the same number of queries at two sizes, and the words in English and Hindi.

The burst alerts are raised by the real anomalies job over events appended to the real access log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from freezegun import freeze_time

from accounts.models import Alert, RegisteredDevice
from governance.evidence import alert_triage_read
from governance.timeline import Scope, Timeline, figures_read
from records.audit import access_event_append
from records.keys import Purpose
from tests.conftest import sign_in
from tests.governance.test_anomalies import T0, failures, run, times
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def read(actor, instants, *, record=None, ips=("10.0.0.7",), devices=(None,), action="view") -> None:
    """Append one access event per instant; records, IPs and devices cycle through those given."""
    records_ = record if isinstance(record, list | tuple) else [record]
    with freeze_time(instants[0]) as clock:
        for n, at in enumerate(instants):
            clock.move_to(at)
            access_event_append(
                actor=actor,
                action=action,
                outcome="allowed",
                purpose=Purpose.DUE_DOSE,
                beneficiary=records_[n % len(records_)],
                ip_address=ips[n % len(ips)],
                device=devices[n % len(devices)],
            )


def device(user, code: str) -> RegisteredDevice:
    return RegisteredDevice.objects.create(user=user, token_hash=code.ljust(64, "0"), code=code, status="approved")


def page(client, alert, language: str = "en") -> str:
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("admin:accounts_alert_change", args=[alert.pk]))
    assert response.status_code == 200
    return response.content.decode()


def svg(html: str) -> str:
    return html.split('<svg class="timeline-chart"')[1].split("</svg>")[0]


def words(html: str) -> str:
    html = re.sub(r"<details class=\"raw-evidence\">.*?</details>|<svg.*?</svg>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def burst_of_one_record(world, records):  # noqa: F811
    """63 views of one record within about four minutes, from one address and one device; the job raises a burst."""
    read(world.worker, times(63, gaps=(3, 4, 5)), record=records.own, devices=[device(world.worker, "ASHAPHON")])
    run()
    return Alert.objects.get(rule="volume_burst")


# --- The figures, counted in SQL ----------------------------------------------------------------------------


def test_63_views_of_one_record_are_said_to_be_of_one_record(world, burst_of_one_record):
    with translation.override("en"):
        triage = alert_triage_read(burst_of_one_record)
    f = triage.figures
    assert (f.events, f.records, f.distinct_records, f.one_record) == (63, 63, 1, "10000000000001")
    assert (f.hours, f.ips, f.devices) == (1, 1, 1)
    assert triage.window_sentences[0] == "All 63 records read in this window were of one record, 10000000000001."
    assert triage.window_sentences[1] == "63 events from 3 Nov 2026, 10:00:00 to 3 Nov 2026, 10:04:07."


def test_figures_count_records_hours_addresses_and_devices_of_the_window_only(world, records):  # noqa: F811
    phone, laptop = device(world.worker, "PHONE001"), device(world.worker, "LAPTOP01")
    start = datetime(2026, 11, 3, 4, 50, tzinfo=UTC)  # 10:20 in India: the window covers 10:20 to 11:10
    instants = [start + timedelta(minutes=m) for m in (0, 20, 30, 50)]  # 10:20, 10:40 | 10:50, 11:10 local
    read(world.worker, instants, record=[records.own, records.own, records.same_district, records.far],
         ips=("10.0.0.1", "10.0.0.2"), devices=(phone, laptop))  # fmt: skip
    read(world.worker, [start + timedelta(minutes=5)], action="search")  # no record read, but an event
    read(world.worker, [start - timedelta(minutes=1), start + timedelta(minutes=51)], record=records.own)  # outside
    scope = Scope("access", "1 = 1", start, start + timedelta(minutes=50))
    f = figures_read(scope, world.worker.pk)
    # 04:50 and 05:40 UTC are three UTC hours apart at most, but two local clock hours (10 and 11 o'clock).
    assert (f.events, f.records, f.distinct_records, f.one_record) == (5, 4, 3, None)
    assert (f.hours, f.ips, f.devices) == (2, 3, 2)  # the search came from a third address, on no device
    assert (f.first, f.last) == (start, start + timedelta(minutes=50))
    only_views = figures_read(Scope("access", "action = 'view'", start, start + timedelta(minutes=50)), world.worker.pk)
    assert only_views.events == 4


def test_the_account_logs_window_counts_no_records_or_devices(world, client):
    failures(world.worker, times(5, gaps=(100, 130)))
    run()
    alert = Alert.objects.get(rule="failed_logins")
    f = alert_triage_read(alert).figures
    assert (f.events, f.records, f.distinct_records, f.devices, f.ips) == (5, None, None, None, 1)
    sign_in(client, world.supervisor)
    shown = words(page(client, alert))
    assert "Clock hours" in shown and "Records read" not in shown and "Devices 1" not in shown


def test_an_alert_naming_no_window_or_events_has_no_figures(world, client):
    from accounts.services.alerts import alert_raise

    alert = alert_raise(
        rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={}, raised_by=world.system
    )
    assert alert_triage_read(alert).figures is None
    sign_in(client, world.supervisor)
    assert "timeline-chart" not in page(client, alert)


# --- The timeline ---------------------------------------------------------------------------------------


def test_the_timeline_lays_out_one_bar_per_busy_step_the_tallest_full_height():
    start = datetime(2026, 11, 3, 4, 28, tzinfo=UTC)
    drawn = Timeline(start=start, end=start + timedelta(minutes=10), step=10, counts={0: 5, 30: 10, 59: 1},
                     bounds=(start, start + timedelta(minutes=10)))  # fmt: skip
    assert [b["n"] for b in drawn.bars] == [5, 10, 1]
    tallest = drawn.bars[1]
    assert tallest["h"] == drawn.base - 22 and tallest["y"] == 22
    assert drawn.bars[0]["x"] == 14 and drawn.bars[2]["x"] == round(14 + 59 * 452 / 60, 1)
    assert [e["x"] for e in drawn.edges] == [14, 466]
    with translation.override("en"):
        assert [t["label"] for t in drawn.ticks] == ["09:58", "10:03", "10:08"]
        assert drawn.scale_text == "Each bar counts the events of 10 seconds; the tallest holds 10 events."


def test_the_page_draws_the_windows_events_with_labelled_times(world, client, burst_of_one_record):
    sign_in(client, world.supervisor)
    html = page(client, burst_of_one_record)
    drawing = svg(html)
    bars = re.findall(r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', drawing)
    window = burst_of_one_record.evidence
    # The window: 10 minutes before the 61st view to the 63rd (607 s), so 15 s a bar; the views fill 4 minutes.
    assert len(bars) == 17 and max(float(h) for h in bars) == 70
    start = timezone.localtime(datetime.fromisoformat(window["window_start"]))
    assert f">{start:%H:%M}</text>" in drawing and f">{start + timedelta(minutes=10):%H:%M}</text>" in drawing
    assert drawing.count('class="bound"') == 2 and ">3 Nov 2026</text>" in drawing
    assert 'role="img"' in drawing and "<title" in drawing and "All 63 records read" in drawing  # the <desc>
    shown = words(html)
    assert "All 63 records read in this window were of one record, 10000000000001." in shown  # not picture-only
    assert "Records read 63" in shown and "Distinct records 1" in shown and "IP addresses 1" in shown
    assert "Each bar counts the events of 15 seconds; the tallest holds" in shown


def test_the_timeline_escapes_the_names_it_writes(world, client, burst_of_one_record):
    world.worker.first_name = '<script>alert("x")</script>'
    world.worker.save(update_fields=["first_name"])
    sign_in(client, world.supervisor)
    drawing = svg(page(client, burst_of_one_record))
    assert "<script>" not in drawing and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in drawing


def test_the_events_are_listed_once(world, client, burst_of_one_record):
    sign_in(client, world.supervisor)
    html = page(client, burst_of_one_record)
    assert html.count('<table class="access-events">') == 1
    assert html.count("<code>10000000000001</code>") == 50  # the first 50 of the window's 63, once each


def test_the_window_reads_in_hindi(world, client, burst_of_one_record):
    sign_in(client, world.supervisor)
    html = page(client, burst_of_one_record, "hi")
    shown = words(html)
    assert "इस अवधि में पढ़े गए सभी 63 रिकॉर्ड एक ही रिकॉर्ड, 10000000000001, के थे।" in shown, shown
    assert "पढ़े गए रिकॉर्ड" in shown and "अलग-अलग रिकॉर्ड" in shown and "Records read" not in shown
    assert ">3 नवंबर 2026</text>" in svg(html)


# --- A fixed number of queries ----------------------------------------------------------------------------


def test_the_page_with_its_timeline_reads_the_same_number_of_queries_at_two_sizes(world, client, records):  # noqa: F811
    from tests.factories import WorkerFactory

    counts = []
    for n, start in ((62, T0), (400, T0 + timedelta(days=2))):
        worker = WorkerFactory(facility=world.facility)
        read(worker, times(n, start=start, gaps=(1,)), record=[records.own, records.same_district],
             ips=("10.0.0.1", "10.0.0.2", "10.0.0.3"))  # fmt: skip
        run(start + timedelta(hours=1))
        alert = Alert.objects.get(rule="volume_burst", subject=worker)
        sign_in(client, world.supervisor)
        page(client, alert)  # warm: permissions and the session are cached per request anyway
        with CaptureQueriesContext(connection) as queries:
            html = page(client, alert)
        assert "timeline-chart" in html and f"<dd>{n}</dd>" in html
        counts.append(len(queries))
        client.logout()
    assert counts[0] == counts[1], counts
