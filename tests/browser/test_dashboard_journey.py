"""The dashboard in real Chromium (issue 15, item 3), on a desk (1280×900) and on a phone (390×844), in English
and Hindi: a district supervisor reads the day's to-do list, named and linked, and the chart without hovering;
a state administrator reads the table of her districts and opens one district's waiting enrolments.

Sessions are those a login creates (tests.conftest.sign_in, copied into Chromium as cookies, as in
test_console_journeys.py). Screenshots: test-results/dashboard-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Alert, LoginHold, RegisteredDevice, Status, User
from governance.jobs import job_run
from governance.tallies import local_today, week_start
from tests.browser.test_console_journeys import console_signed_in_earlier, shoot
from tests.browser.test_login_device_approval import watch_csp
from tests.factories import WorkerFactory
from tests.governance.test_dashboard import views

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZES = {"desk": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
VIEWS = ((0, 6), (1, 3), (4, 9), (9, 2), (17, 5), (26, 4))  # Asha's record views: days ago, how many
WAITING = [("Sunita", "Devi"), ("Ravi", "Kumar"), ("Meera", "Yadav"), ("Kamla", "Singh"), ("Gita", "Rawat")]


def a_days_work(world):
    """Lucknow's day: five enrolments and a device waiting, a worker locked, an alert, re-verifications due,
    and a month of record views; Varanasi: one enrolment and one suspension."""
    type(world.state).objects.filter(pk=world.state.pk).update(name_hi="उत्तर प्रदेश")
    type(world.district).objects.filter(pk=world.district.pk).update(name_hi="लखनऊ")
    type(world.other_district).objects.filter(pk=world.other_district.pk).update(name_hi="वाराणसी")
    for first, last in WAITING:
        WorkerFactory(facility=world.facility, status=Status.PENDING_APPROVAL, first_name=first, last_name=last)
    WorkerFactory(facility=world.far_facility, status=Status.PENDING_APPROVAL, first_name="Anil", last_name="Rai")
    WorkerFactory(facility=world.far_facility, status=Status.SUSPENDED, suspension_cause="manual")
    for user, (first, last) in ((world.worker, ("Asha", "Verma")), (world.colleague, ("Ravi", "Shankar"))):
        User.objects.filter(pk=user.pk).update(first_name=first, last_name=last, preferred_language="en")
    User.objects.filter(pk=world.supervisor.pk).update(first_name="Ramesh", last_name="Verma", preferred_language="en")
    User.objects.filter(pk=world.state_admin.pk).update(
        first_name="Kavita", last_name="Mishra", preferred_language="en"
    )
    RegisteredDevice.objects.create(user=world.worker, token_hash="b" * 64, code="WAIT2345", status="pending")
    LoginHold.objects.create(user=world.colleague, lockouts=3)
    Alert.objects.create(rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.worker, evidence={})
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=timezone.now() + timedelta(days=4))
    for days_ago, n in VIEWS:
        views(world.worker, n, at=timezone.now() - timedelta(days=days_ago))
    views(world.far_worker, 7)
    job_run("anomalies")


def asha_this_week() -> str:
    """Asha's views counted in this week's column (from Monday, India's days)."""
    now = timezone.now()
    monday = week_start(local_today(now))
    return str(sum(n for days_ago, n in VIEWS if local_today(now - timedelta(days=days_ago)) >= monday))


def fits(page) -> bool:
    """Nothing wider than the window: the page never scrolls sideways (tables scroll inside their box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def to_hindi(console) -> None:
    console.select_option("#console-language", "hi")
    console.locator("#language-form button").click()
    expect(console.locator("html")).to_have_attribute("lang", "hi")


@pytest.fixture(params=SIZES)
def size(request) -> str:
    return request.param


def dashboard_of(user, world, live_server, new_context, size: str, *, header: str):
    """`user`'s dashboard in a Chromium window of `size`, a day's work done, under the console's `header`;
    the page and its CSP reports."""
    a_days_work(world)
    violations: list[str] = []
    console = console_signed_in_earlier(lambda: new_context(viewport=SIZES[size]), live_server.url, user, minutes=0)
    watch_csp(console, violations)
    console.goto(f"{live_server.url}/admin/")
    expect(console.locator("#site-name")).to_have_text(header)
    return console, violations


def test_a_supervisor_reads_the_days_to_do_list(world, live_server, new_context, size):
    header = "District supervisor console — Lucknow"
    console, violations = dashboard_of(world.supervisor, world, live_server, new_context, size, header=header)
    expect(console.locator("ul.todo > li")).to_have_count(5)
    enrolments = console.locator("li.todo-enrolments")
    expect(enrolments.get_by_role("link")).to_have_text("5 enrolments waiting for approval")
    expect(enrolments.get_by_role("link")).to_have_attribute(
        "href", "/admin/accounts/user/?status__exact=pending_approval"
    )
    expect(enrolments.locator(".who")).to_have_text("Sunita Devi, Ravi Kumar, Meera Yadav and 2 more")
    expect(console.locator("li.todo-devices a")).to_have_text("1 device waiting for approval")
    expect(console.locator("li.todo-locked a")).to_have_attribute("href", "/admin/accounts/user/?lock=now")
    expect(console.locator("li.todo-locked .who")).to_have_text("Ravi Shankar")
    expect(console.locator("li.todo-alerts .who")).to_have_text("Asha Verma")
    expect(console.locator("li.todo-due a")).to_have_text("1 re-verification due within 14 days")
    expect(console.locator("#views-summary")).to_contain_text("29 record views in 30 days.")
    expect(console.locator("svg.chart text.day")).to_have_count(3)
    expect(console.locator(".districts")).to_have_count(0)  # the state's table is not his
    assert fits(console)
    shoot(console, f"dashboard-supervisor-{size}")

    # On a phone too the figures are there without hovering: the day-by-day table opens with a tap.
    console.locator("details.days summary").click()
    expect(console.locator("details.days tbody tr")).to_have_count(30)
    expect(console.locator("details.days tbody tr").first.locator("td")).to_have_text("6")
    shoot(console, f"dashboard-supervisor-{size}-days")

    # The item's link opens the list where the enrolments are approved.
    enrolments.get_by_role("link").click()
    expect(console.locator("#result_list tbody tr")).to_have_count(5)

    console.goto(f"{live_server.url}/admin/")
    to_hindi(console)
    expect(console.locator("#site-name")).to_have_text("ज़िला पर्यवेक्षक कंसोल — लखनऊ")
    expect(enrolments.get_by_role("link")).to_have_text("5 पंजीकरण स्वीकृति की प्रतीक्षा में")
    expect(enrolments.locator(".who")).to_have_text("Sunita Devi, Ravi Kumar, Meera Yadav और 2 अन्य")
    expect(console.locator("li.todo-locked a")).to_have_text("1 खाता अभी लॉक है")
    expect(console.locator("#views-summary")).to_contain_text("30 दिनों में 29 रिकॉर्ड देखे गए।")
    assert fits(console)
    shoot(console, f"dashboard-supervisor-{size}-hindi")
    assert violations == []


def test_a_state_administrator_reads_her_districts(world, live_server, new_context, size):
    header = "State administrator console — Uttar Pradesh"
    console, violations = dashboard_of(world.state_admin, world, live_server, new_context, size, header=header)
    rows = console.locator(".districts tbody tr")
    expect(rows).to_have_count(2)
    lucknow, varanasi = rows.filter(has_text="Lucknow"), rows.filter(has_text="Varanasi")
    #                         workers waiting locked suspended alerts views
    expect(lucknow.locator("td")).to_have_text(["3", "5", "1", "0", "1", asha_this_week()])
    expect(varanasi.locator("td")).to_have_text(["1", "1", "0", "1", "0", "7"])
    expect(console.locator("li.todo-enrolments a")).to_have_text("6 enrolments waiting for approval")
    assert fits(console)
    shoot(console, f"dashboard-state-{size}")

    lucknow.locator("td").nth(1).get_by_role("link").click()
    listed = console.locator("#result_list tbody tr")
    expect(listed).to_have_count(5)
    expect(console.locator("#result_list")).not_to_contain_text("Anil")  # Varanasi's stays out

    console.goto(f"{live_server.url}/admin/")
    to_hindi(console)
    expect(console.locator("#site-name")).to_have_text("राज्य प्रशासक कंसोल — उत्तर प्रदेश")
    expect(console.locator(".districts thead")).to_contain_text("इस हफ़्ते देखे गए रिकॉर्ड")
    expect(console.locator(".districts tbody th")).to_have_text(["लखनऊ", "वाराणसी"])
    assert fits(console)
    shoot(console, f"dashboard-state-{size}-hindi")
    assert violations == []
