"""Alert triage end to end in real Chromium: a supervisor signs in with a real one-time code, opens the
dashboard, follows an open alert, reads its evidence, confirms it and suspends the worker with a reason,
proving a fresh code (step-up) on the way. Screenshots go to test-results/ (for people to look at).

The alert is raised by the real anomalies job over the worker's night-time record views. The only
shortcut is the supervisor's browser, whose approved-device cookie is made the way tests.conftest.sign_in
makes it (device approval has its own browser test); the login itself goes through the real pages.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from itertools import pairwise
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signing
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.login.device_cookie import SALT
from accounts.login.session import AUTH_AT_KEY, STEP_UP_AT_KEY
from accounts.models import Alert, RegisteredDevice, Status
from accounts.services.devices import device_token_hash, device_token_new
from tests.browser.conftest import cookies_give
from tests.browser.test_login_device_approval import fresh_totp, log_in, watch_csp
from tests.governance.test_alert_timeline import device, read
from tests.governance.test_anomalies import NIGHT, log, run, times
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PHONE = {"width": 360, "height": 740}


def shoot(page, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def approved_browser(context, base_url: str, user) -> None:
    """Give the browser the cookie of an approved device of `user` (what a supervisor's approval leaves)."""
    token = device_token_new()
    RegisteredDevice.objects.create(
        user=user, token_hash=device_token_hash(token), code="OFFICEPC", label="District office PC", status="approved"
    )
    name = settings.DEVICE_COOKIE_NAME
    value = signing.get_cookie_signer(salt=name + SALT).sign(token)
    cookies_give(context, base_url, {name: value})


def age_the_code(context) -> None:
    """Move the session's last proven code 6 minutes back, as if the supervisor had read for a while."""
    key = next(c["value"] for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=6)).isoformat()
    session.pop(STEP_UP_AT_KEY, None)
    session.save()


def test_supervisor_triages_an_alert_confirms_it_and_suspends_the_worker(world, live_server, page, new_context):
    base = live_server.url
    violations: list[str] = []
    watch_csp(page, violations)
    world.supervisor.first_name, world.supervisor.last_name = "Ramesh", "Verma"
    world.supervisor.save(update_fields=["first_name", "last_name"])
    world.worker.first_name, world.worker.last_name = "Asha", "Kumari"
    world.worker.save(update_fields=["first_name", "last_name"])
    RegisteredDevice.objects.create(
        user=world.worker,
        token_hash="a" * 64,
        code="ASHAPHON",
        label="Asha's phone",
        status="approved",
        last_seen_at=NIGHT + timedelta(hours=6),
    )
    log(world.worker, times(12, start=NIGHT, gaps=(1500, 1800, 1200)))  # 22:30 to about 03:00
    run(NIGHT + timedelta(days=1))
    alert = Alert.objects.get(rule="night_views")
    assert alert.severity == Alert.Severity.MEDIUM and alert.status == "open"

    # 1. The supervisor signs in with his password and a real code, from his approved office PC.
    supervisor_totp = TOTPDevice.objects.create(user=world.supervisor, name="app", confirmed=True)
    approved_browser(page.context, base, world.supervisor)
    assert log_in(page, base, world.supervisor.username, supervisor_totp).status == 200

    # 2. The dashboard shows one open alert of medium severity; he follows it to the list, then the alert.
    page.goto(f"{base}/admin/")
    panel = page.locator(".dashboard .panel", has_text="Open alerts")
    expect(panel).to_contain_text("1 Medium")
    panel.get_by_role("link").first.click()
    row = page.locator("#result_list tbody tr", has_text="Record views at night")
    expect(row).to_have_count(1)
    row.locator("th a, td a").first.click()

    # 3. The evidence, in words and numbers, and the events behind it.
    expect(page.get_by_role("heading", name="Record views at night", level=1)).to_be_visible()
    evidence = page.locator(".triage-card", has=page.get_by_role("heading", name="Evidence"))
    expect(evidence).to_contain_text(
        "12 record views in the night from 3 Nov 2026, 22:00 to 4 Nov 2026, 05:59; more than 10 raise this alert."
    )
    expect(evidence.locator("table.access-events tbody tr")).to_have_count(12)
    expect(page.locator(".raw-evidence pre")).not_to_be_visible()  # the JSON stays folded
    expect(page.locator(".triage")).to_contain_text("ASHAPHON")
    shoot(page, "alert-triage-evidence")

    # 4. He confirms it; his code is six minutes old, so the console asks for a fresh one first.
    age_the_code(page.context)
    page.get_by_label("Reason").first.fill("Not on the night roster; the facility in-charge confirms")
    page.get_by_role("button", name="Confirm the alert").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.select_option("select[name=method]", "totp")
    page.fill("input[name=token]", fresh_totp(supervisor_totp))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Record views at night", level=1)).to_be_visible()
    reason = page.locator("textarea[name=decide-reason]")
    expect(reason).to_have_value("Not on the night roster; the facility in-charge confirms")  # not typed twice
    alert.refresh_from_db()
    assert alert.status == "open"  # nothing applied before the button is pressed again
    page.get_by_role("button", name="Confirm the alert").click()
    expect(page.locator("ul.messagelist li.success")).to_have_text("Alert confirmed.")
    alert.refresh_from_db()
    assert (alert.status, alert.decided_by) == ("confirmed", world.supervisor)

    # 5. He suspends the worker with a reason (the fresh code still counts).
    page.locator("textarea[name=suspend-reason]").fill("Night views of records not on her list; until we talk")
    page.get_by_role("button", name="Suspend this account").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("is suspended; their sessions have ended.")
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED
    assert world.worker.status_reason == (
        f"alert {alert.pk} (night_views): Night views of records not on her list; until we talk"
    )
    summary = page.locator(".triage-summary")
    expect(summary).to_contain_text("Confirmed by Ramesh Verma")
    expect(summary).to_contain_text("Not on the night roster; the facility in-charge confirms")
    expect(page.locator(".triage")).to_contain_text("Suspended by a supervisor")
    shoot(page, "alert-triage-done")

    # 6. The same page on a phone, and in Hindi: no sideways scroll of the page.
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "alert-triage-phone")
    cookies_give(page.context, base, {settings.LANGUAGE_COOKIE_NAME: "hi"})
    page.reload()
    expect(page.locator(".triage")).to_contain_text("साक्ष्य")
    shoot(page, "alert-triage-phone-hi")
    assert violations == []


SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def test_a_burst_alert_shows_its_timeline_and_figures_on_a_desktop_and_a_phone(world, records, live_server, page):  # noqa: F811
    """63 views of one record in four minutes: the page draws them, says "one record" in words, and fits."""
    read(world.worker, times(63, gaps=(3, 4, 5)), record=records.own, devices=[device(world.worker, "ASHAPHON")])
    run()
    alert = Alert.objects.get(rule="volume_burst")
    base = live_server.url
    violations: list[str] = []
    watch_csp(page, violations)
    supervisor_totp = TOTPDevice.objects.create(user=world.supervisor, name="app", confirmed=True)
    approved_browser(page.context, base, world.supervisor)
    assert log_in(page, base, world.supervisor.username, supervisor_totp).status == 200
    words = {
        "en": ("The window at a glance", "All 63 records read in this window were of one record, 10000000000001."),
        "hi": ("अवधि एक नज़र में", "इस अवधि में पढ़े गए सभी 63 रिकॉर्ड एक ही रिकॉर्ड, 10000000000001, के थे।"),
    }
    for language, (heading, one_record) in words.items():
        cookies_give(page.context, base, {settings.LANGUAGE_COOKIE_NAME: language})
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.goto(f"{base}/admin/accounts/alert/{alert.pk}/change/")
            chart = page.locator("svg.timeline-chart")
            expect(chart).to_be_visible()
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            expect(page.locator(".window-sentences")).to_contain_text(one_record)  # said, not only drawn
            assert chart.locator("rect.bar").count() == 17 and chart.locator("line.bound").count() == 2
            box = chart.bounding_box()
            assert box["width"] > 200 and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (language, size)
            labels = chart.locator("text.label").all()
            assert len(labels) == 3 and all(label.is_visible() for label in labels)
            edges = [label.bounding_box() for label in labels]
            assert all(a["x"] + a["width"] <= b["x"] for a, b in pairwise(edges))  # no overlap
            expect(page.locator("table.access-events")).to_have_count(1)  # the rows once
            shoot(page, f"alert-timeline-{size}-{language}")
            page.evaluate("document.querySelector('.window-figures').scrollIntoView({block: 'end'})")
            page.screenshot(path=str(RESULTS / f"alert-timeline-{size}-{language}-view.png"))  # the screen, as seen
    assert violations == []
