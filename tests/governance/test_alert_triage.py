"""The console's alert page: every rule's evidence in words (English and Hindi), the account behind it, the
three decisions with a reason and a fresh code, scoping, and a fixed number of queries.

Alerts are raised by the real rules (the anomalies job over events logged by tests/records' helpers, the
read path for the budget and the canary), so the page is tested against the evidence they really write.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts.models import Alert, RegisteredDevice, Status, SuspensionCause
from accounts.services.alerts import alert_raise
from governance.rules.registry import BY_NAME
from records.keys import Purpose
from records.services import AccessInterrupted, BudgetExhausted, Viewer, record_get_for_viewer
from tests.conftest import sign_in
from tests.governance.test_anomalies import NIGHT, T0, failures, history, log, run, times
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def page(client, alert, **params) -> str:
    response = client.get(reverse("admin:accounts_alert_change", args=[alert.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The page's visible words, one space between them (tags dropped, the raw-evidence block removed)."""
    html = re.sub(r"<details class=\"raw-evidence\">.*?</details>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


def only(rule: str) -> Alert:
    return Alert.objects.get(rule=rule)


# --- Each rule's evidence in words -----------------------------------------------------------------------


def burst(world, recs):
    log(world.worker, times(61))
    run()


def spike(world, recs):
    history(world.worker)
    log(world.worker, times(51, gaps=(70, 130, 95)))
    run()


def out_of_scope(world, recs):
    log(world.worker, [T0 + timedelta(hours=h) for h in (0, 2, 5)], outcome="out_of_scope")
    run()


def night(world, recs):
    log(world.worker, times(11, start=NIGHT, gaps=(1800, 2400, 1500)))
    run(NIGHT + timedelta(days=1))


def cadence(world, recs):
    log(world.worker, times(30, gaps=(20,)), action="search")
    run()


def many_ips(world, recs):
    log(
        world.worker,
        [T0, T0 + timedelta(minutes=20), T0 + timedelta(minutes=40)],
        ips=["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    )
    run()


def failed_logins(world, recs):
    failures(world.worker, times(5, gaps=(100, 130)))
    run()


def canary_job(world, recs):
    log(world.worker, [T0], outcome="canary")
    run()


def unexplained_day(world, recs):
    log(world.worker, times(21, gaps=(70, 130, 95)), beneficiary=recs.own)
    run()


def unexplained_week(world, recs):
    for day in range(5):
        log(world.worker, times(21, start=T0 - timedelta(days=4 - day), gaps=(70, 130, 95)), beneficiary=recs.own)
    run()


def canary_read_path(world, recs):
    with freeze_time(T0), pytest.raises(AccessInterrupted):
        record_get_for_viewer(
            viewer=Viewer(user=world.worker, ip="10.0.0.7"),
            reference_id=recs.canary.reference_id,
            purpose=Purpose.DUE_DOSE,
        )


def budget(world, recs):
    """Three look-ups allowed (the test sets the budget to 3 with pytest-django's `settings`), two refused."""
    look_up = {"viewer": Viewer(user=world.worker, ip="10.0.0.7"), "reference_id": recs.own.reference_id}
    with freeze_time(T0):
        for _ in range(3):
            record_get_for_viewer(**look_up, purpose=Purpose.DUE_DOSE)
        for _ in range(2):
            with pytest.raises(BudgetExhausted):
                record_get_for_viewer(**look_up, purpose=Purpose.DUE_DOSE)


CASES = {
    "volume_burst": (
        burst,
        [
            "61 record views within 10 minutes; more than 60 raise this alert.",
            "From 3 Nov 2026, 09:58 to 10:08: 61 record views in all.",
            "The first 50 of 61 events are listed",
        ],
        50,
    ),
    "baseline_spike": (
        spike,
        [
            "51 record views on 3 Nov 2026.",
            "the 95th percentile of its 7 active days in the 30 before) has 10 views; "
            "more than 5 times that (50) raise this alert.",
        ],
        50,
    ),
    "out_of_scope": (
        out_of_scope,
        ["3 requests for records outside the account's area on 3 Nov 2026; 3 or more in a day raise this alert."],
        3,
    ),
    "night_views": (
        night,
        ["11 record views in the night from 3 Nov 2026, 22:00 to 4 Nov 2026, 05:59; more than 10 raise this alert."],
        11,
    ),
    "cadence": (
        cadence,
        ["30 requests in a row, one every 20 seconds on average, the gaps varying by only 0%; under 15% looks like"],
        30,
    ),
    "many_ips": (
        many_ips,
        [
            "Requests from 3 different IP addresses within 60 minutes; 3 or more raise this alert.",
            "Addresses: 10.0.0.1, 10.0.0.2, 10.0.0.3.",
        ],
        3,
    ),
    "failed_logins": (
        failed_logins,
        [
            "5 failed passwords or one-time codes within 10 minutes; 5 or more raise this alert.",
            "Tried from: 10.9.9.9.",
            "failed attempts in all.",
        ],
        5,
    ),
    "canary": (canary_job, ["A canary record was opened at 3 Nov 2026, 10:00."], 1),
    "unexplained_views": (
        unexplained_day,
        [
            "21 records opened on 3 Nov 2026 that no appointment, dose or consent explains; more than 20 in a "
            "day raise this alert."
        ],
        21,
    ),
    "unexplained_views_week": (
        unexplained_week,
        [
            "105 records opened from 28 Oct 2026, 00:00 to 3 Nov 2026, 23:59 that no appointment, dose or consent "
            "explains; more than 100 in seven days raise this alert."
        ],
        50,
    ),
}


def test_every_registered_rule_has_its_page_tested():
    """Each rule's page is tested with the evidence it really writes: CASES, and the budget's own test below."""
    assert {*CASES, "daily_budget"} == set(BY_NAME)


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rules_evidence_reads_as_sentences_with_its_events(world, records, client, rule):  # noqa: F811
    make, lines, rows = CASES[rule]
    make(world, records)
    alert = only(rule)
    sign_in(client, world.supervisor)
    html = page(client, alert)
    words = text(html)
    assert str(BY_NAME[rule].words.title) in words and BY_NAME[rule].words.meaning_text()[:20] in words
    for line in lines:
        assert line in words, (line, words)
    table = "evidence-events" if rule == "failed_logins" else "access-events"
    evidence_table = html.split('id="evidence-heading"')[1].split("</section>")[0]
    assert evidence_table.count("<tr") - 1 == rows and table in evidence_table
    assert '"summary"' not in words  # the JSON is only in the auditors' fold


def test_the_read_paths_canary_names_the_record_facility_and_address(world, records, client):  # noqa: F811
    canary_read_path(world, records)
    alert = only("canary")
    sign_in(client, world.supervisor)
    words = text(page(client, alert))
    assert "Canary record 10000000000005 of facility 1090100001 was opened at" in words
    assert "from IP address 10.0.0.7." in words
    assert "Canary opened" in words  # the event behind it, in the table


def test_the_budget_alert_lists_the_days_refusals(world, records, client, settings):  # noqa: F811
    settings.PRAHARI_DAILY_VIEW_BUDGET = 3
    budget(world, records)
    alert = only("daily_budget")
    sign_in(client, world.supervisor)
    html = page(client, alert)
    words = text(html)
    assert "All 3 record look-ups of 3 Nov 2026 were used; every further look-up that day was refused." in words
    evidence = html.split('id="evidence-heading"')[1].split("</section>")[0]
    assert evidence.count("Over the daily limit") == 2


def test_the_evidence_reads_in_hindi(world, records, client):  # noqa: F811
    burst(world, records)
    sign_in(client, world.supervisor)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    words = text(page(client, only("volume_burst")))
    assert "10 मिनट में 61 रिकॉर्ड देखे गए" in words, words
    assert "record views within" not in words and "साक्ष्य" in words and "चेतावनी" in words


def test_evidence_it_cannot_read_falls_back_to_the_summary(world, client):
    odd = alert_raise(
        rule="volume_burst",
        severity=Alert.Severity.HIGH,
        subject=world.worker,
        evidence={"count": "many", "summary": "Something odd happened."},
        raised_by=world.system,
    )
    empty = alert_raise(
        rule="retired_rule", severity=Alert.Severity.LOW, subject=world.worker, evidence={}, raised_by=world.system
    )
    sign_in(client, world.supervisor)
    assert "Something odd happened." in text(page(client, odd))
    assert "No details were recorded with this alert." in text(page(client, empty))


# --- The account behind it --------------------------------------------------------------------------------


def test_the_page_shows_the_accounts_devices_status_and_its_log_but_lists_events_once(world, client):
    log(world.worker, times(25))
    RegisteredDevice.objects.create(
        user=world.worker,
        token_hash="a" * 64,
        code="ASHAPHON",
        label="Asha's phone",
        status="approved",
        last_seen_at=timezone.now(),
    )
    RegisteredDevice.objects.create(user=world.worker, token_hash="b" * 64, code="CYBERCAF", status="revoked")
    alert = alert_raise(
        rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={}, raised_by=world.system
    )
    sign_in(client, world.supervisor)
    html = page(client, alert)
    account = html.split('id="account-heading"')[1]
    assert "access-events" not in account and "The latest" not in account  # the evidence's table is the one list
    assert "ASHAPHON" in account and "CYBERCAF" in account and "Revoked" in account and "Active" in account
    assert f'href="/admin/records/accessevent/?actor__id__exact={world.worker.pk}"' in html


# --- Decisions: a reason, a fresh code, the services ----------------------------------------------------------


@pytest.fixture
def open_alert(world):
    return alert_raise(
        rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={}, raised_by=world.system
    )


def post(client, alert, decision: str, reason: str, *, follow=True):
    prefix = "suspend" if decision == "suspend" else "decide"
    url = reverse("admin:accounts_alert_change", args=[alert.pk])
    return client.post(url, {"decision": decision, f"{prefix}-reason": reason}, follow=follow)


@pytest.mark.parametrize(
    ("decision", "status", "message"),
    [("confirm", "confirmed", "Alert confirmed."), ("dismiss", "dismissed", "Alert dismissed.")],
)
def test_confirm_or_dismiss_with_a_reason(world, client, open_alert, decision, status, message):
    sign_in(client, world.supervisor)
    refused = post(client, open_alert, decision, "")
    assert "This field is required" in refused.content.decode()
    open_alert.refresh_from_db()
    assert open_alert.status == "open"

    done = post(client, open_alert, decision, "She was on the vaccination drive roster")
    assert done.redirect_chain[-1][0] == reverse("admin:accounts_alert_change", args=[open_alert.pk])
    assert message in text(done.content.decode())
    open_alert.refresh_from_db()
    assert (open_alert.status, open_alert.decided_by, open_alert.decision_reason) == (
        status,
        world.supervisor,
        "She was on the vaccination drive roster",
    )
    words = text(done.content.decode())
    assert "She was on the vaccination drive roster" in words and "Nobody has decided" not in words
    assert "Decide on this alert" not in words  # decided once


def test_suspend_the_account_with_a_reason_naming_the_alert(world, client, open_alert):
    sign_in(client, world.supervisor)
    done = post(client, open_alert, "suspend", "Confirmed with the facility: not her shift")
    assert f"{world.worker} is suspended; their sessions have ended." in text(done.content.decode())
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.MANUAL)
    record = world.worker.history.first()
    assert record.history_user == world.supervisor
    assert record.status_reason == f"alert {open_alert.pk} (night_views): Confirmed with the facility: not her shift"
    assert "Suspend this account" not in text(done.content.decode()).split("The account")[0]  # no second suspension


def test_a_refused_decision_is_a_message_not_an_error(world, client, open_alert):
    sign_in(client, world.supervisor)
    post(client, open_alert, "confirm", "real")
    again = post(client, open_alert, "dismiss", "changed my mind")  # the form is gone, but a stale page may post
    assert "This alert was already decided: Confirmed." in text(again.content.decode())
    world.worker.status = Status.SUSPENDED
    world.worker.suspension_cause = SuspensionCause.MANUAL
    world.worker.save(update_fields=["status", "suspension_cause"])
    refused = post(client, open_alert, "suspend", "twice")
    assert refused.status_code == 200 and "cannot be suspended" in text(refused.content.decode())


def test_a_decision_needs_a_fresh_code_and_keeps_the_typed_reason(world, client, open_alert):
    sign_in(client, world.supervisor)
    later = timezone.now() + timedelta(minutes=6)
    with freeze_time(later):
        assert "Confirm the alert" in page(client, open_alert)  # reading needs no fresh code
        asked = post(client, open_alert, "suspend", "Not her shift; facility confirmed", follow=False)
        assert asked.status_code == 302 and asked["Location"].startswith("/accounts/step-up/")
        world.worker.refresh_from_db()
        assert world.worker.status == Status.ACTIVE

        device = TOTPDevice.objects.get(user=world.supervisor)
        code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
        back = client.post(asked["Location"], {"method": "totp", "token": code})
        assert back.status_code == 302 and back["Location"] == reverse(
            "admin:accounts_alert_change", args=[open_alert.pk]
        )
        html = page(client, open_alert)
        assert "Not her shift; facility confirmed</textarea>" in html  # put back, not applied
        world.worker.refresh_from_db()
        assert world.worker.status == Status.ACTIVE
        post(client, open_alert, "suspend", "Not her shift; facility confirmed")
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED


@pytest.mark.parametrize("viewer", ["worker", "colleague"])
def test_the_subject_and_workers_cannot_open_the_console_page(world, client, open_alert, viewer):
    sign_in(client, getattr(world, viewer))
    response = client.get(reverse("admin:accounts_alert_change", args=[open_alert.pk]))
    assert response.status_code in (302, 403, 404) and b"night" not in response.content


def test_a_state_admin_of_another_state_gets_404_and_cannot_decide(world, client, open_alert):
    sign_in(client, world.other_state_admin)
    url = reverse("admin:accounts_alert_change", args=[open_alert.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "confirm", "decide-reason": "not mine"}).status_code == 404
    open_alert.refresh_from_db()
    assert open_alert.status == "open"


# --- A fixed number of queries ----------------------------------------------------------------------------


def test_the_page_reads_the_same_number_of_queries_at_two_sizes(world, client):
    from tests.factories import WorkerFactory

    counts = []
    for n in (3, 60):
        worker = WorkerFactory(facility=world.facility)
        log(worker, times(n))
        for i in range(n // 10 + 1):
            RegisteredDevice.objects.create(
                user=worker, token_hash=f"{n:02d}{i:062d}", code=f"D{n:02d}{i:05d}", status="approved"
            )
        events = list(worker.access_events.order_by("pk").values_list("pk", flat=True))
        alert = alert_raise(
            rule="volume_burst",
            severity=Alert.Severity.HIGH,
            subject=worker,
            evidence={
                "count": n,
                "threshold": 60,
                "minutes": 10,
                "window_start": "2026-11-03T09:58:00.000+05:30",
                "window_end": "2026-11-03T10:08:00.000+05:30",
                "events_in_window": n,
                "events": events[:50],
            },
            raised_by=world.system,
        )
        for _ in range(n // 10):
            alert_raise(
                rule="many_ips", severity=Alert.Severity.MEDIUM, subject=worker, evidence={}, raised_by=world.system
            )
        sign_in(client, world.supervisor)
        page(client, alert)  # warm: permissions and the session are cached per request anyway
        with CaptureQueriesContext(connection) as queries:
            page(client, alert)
        counts.append(len(queries))
        client.logout()
    assert counts[0] == counts[1], counts


def test_the_list_names_rules_in_words_and_filters_by_them(world, client, open_alert):
    alert_raise(
        rule="many_ips", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={}, raised_by=world.system
    )
    sign_in(client, world.supervisor)
    listing = client.get(reverse("admin:accounts_alert_changelist"), {"rule__exact": "night_views"})
    assert listing.status_code == 200 and list(listing.context["cl"].result_list) == [open_alert]
    words = text(listing.content.decode())
    assert "Record views at night" in words and "Many IP addresses" in words  # the row, and the filter's choices
