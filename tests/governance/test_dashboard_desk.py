"""The dashboard as the day's to-do list: named items linked to where they are done, in English and Hindi; the
state administrator's table per district; the console's header per role; the chart read without pointing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts.models import Alert, LoginHold, RegisteredDevice, Status, User
from governance.dashboard import dashboard_for
from governance.dashboard_todo import names_in_words
from governance.jobs import job_run
from portal.admin_site import console_header
from tests.accounts.test_lock_state import attempt
from tests.conftest import sign_in
from tests.factories import SupervisorFactory, WorkerFactory
from tests.governance.test_dashboard import views

pytestmark = pytest.mark.django_db

WAITING = [("Sunita", "Devi"), ("Ravi", "Kumar"), ("Meera", "Yadav"), ("Kamla", "Singh"), ("Gita", "Rawat")]


def waiting_enrolments(world, people=WAITING):
    return [
        WorkerFactory(facility=world.facility, status=Status.PENDING_APPROVAL, first_name=first, last_name=last)
        for first, last in people
    ]


def named(world, user_key: str, first: str, last: str) -> User:
    user = getattr(world, user_key)
    User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
    user.refresh_from_db()
    return user


# --- The to-do list --------------------------------------------------------------------------------------


def test_names_in_words_names_a_few_then_says_how_many_more():
    assert names_in_words([], 0) == ""
    assert names_in_words(["Sunita Devi"], 1) == "Sunita Devi"
    assert names_in_words(["Sunita Devi", "Ravi Kumar"], 2) == "Sunita Devi and Ravi Kumar"
    assert names_in_words(["Sunita Devi", "Ravi Kumar", "Meera Yadav"], 5) == (
        "Sunita Devi, Ravi Kumar, Meera Yadav and 2 more"
    )
    with translation.override("hi"):
        assert names_in_words(["Sunita Devi", "Ravi Kumar"], 3) == "Sunita Devi, Ravi Kumar और 1 अन्य"


def test_enrolments_are_named_the_first_three_then_how_many_more(world):
    waiting_enrolments(world)
    item = dashboard_for(world.supervisor).item("enrolments")
    assert (item.count, item.text) == (5, "5 enrolments waiting for approval")
    assert item.who == "Sunita Devi, Ravi Kumar, Meera Yadav and 2 more"
    assert item.url == "/admin/accounts/user/?status__exact=pending_approval"
    with translation.override("hi"):
        assert item.text == "5 पंजीकरण स्वीकृति की प्रतीक्षा में"
        assert item.who == "Sunita Devi, Ravi Kumar, Meera Yadav और 2 अन्य"


def test_one_of_each_reads_in_the_singular(world, settings):
    waiting_enrolments(world, WAITING[:1])
    RegisteredDevice.objects.create(user=world.worker, token_hash="a" * 64, code="PEND1234", status="pending")
    attempt(named(world, "colleague", "Ravi", "Kumar"), "10.0.0.9", settings.AXES_FAILURE_LIMIT, ago=timedelta(0))
    Alert.objects.create(rule="canary", severity=Alert.Severity.CRITICAL, subject=world.district_worker, evidence={})
    User.objects.filter(pk=world.worker.pk).update(review_due_at=timezone.now() - timedelta(days=1))
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=timezone.now() + timedelta(days=3))
    d = dashboard_for(world.supervisor)
    assert [(i.kind, i.text) for i in d.waiting] == [
        ("enrolments", "1 enrolment waiting for approval"),
        ("devices", "1 device waiting for approval"),
        ("locked", "1 account locked now"),
        ("alerts", "1 open alert of high or critical severity"),
        ("overdue", "1 re-verification overdue"),
        ("due", "1 re-verification due within 14 days"),
    ]
    assert d.item("locked").who == "Ravi Kumar"
    assert d.item("devices").who == str(world.worker.get_full_name())
    with translation.override("hi"):
        assert d.item("locked").text == "1 खाता अभी लॉक है"
        assert d.item("alerts").text == "उच्च या गंभीर स्तर की 1 खुली चेतावनी"


def test_locked_counts_axes_locks_and_holds_and_links_to_the_locked_list(world, settings):
    attempt(world.worker, "10.0.0.1", settings.AXES_FAILURE_LIMIT, ago=timedelta(minutes=1))
    attempt(world.colleague, "10.0.0.2", settings.AXES_FAILURE_LIMIT - 1, ago=timedelta(minutes=1))  # not yet
    LoginHold.objects.create(user=world.district_worker, lockouts=3)
    LoginHold.objects.create(user=world.far_worker, lockouts=3)  # another district
    item = dashboard_for(world.supervisor).item("locked")
    assert (item.count, item.text, item.url) == (2, "2 accounts locked now", "/admin/accounts/user/?lock=now")
    assert sorted(item.names) == sorted([world.worker.get_full_name(), world.district_worker.get_full_name()])


def test_only_open_high_and_critical_alerts_wait_and_each_person_is_named_once(world):
    for severity in (Alert.Severity.HIGH, Alert.Severity.CRITICAL):
        Alert.objects.create(rule="volume_burst", severity=severity, subject=world.worker, evidence={})
    Alert.objects.create(rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.colleague, evidence={})
    Alert.objects.create(
        rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.colleague, evidence={}, status="dismissed"
    )
    item = dashboard_for(world.supervisor).item("alerts")
    assert (item.count, item.names) == (2, [world.worker.get_full_name()])
    assert item.url == "/admin/accounts/alert/?status__exact=open"


def test_re_verifications_overdue_and_due_soon_are_two_items(world):
    now = timezone.now()
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now - timedelta(days=2))
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=now + timedelta(days=13))
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=now + timedelta(days=20))  # not yet
    d = dashboard_for(world.supervisor)
    assert (d.item("overdue").count, d.item("overdue").url) == (1, "/admin/accounts/user/?reverification=overdue")
    assert (d.item("due").count, d.item("due").url) == (1, "/admin/accounts/user/?reverification=soon")
    assert d.item("overdue").names == [world.worker.get_full_name()]


def test_an_empty_to_do_list_says_nothing_waits(client, world):
    assert dashboard_for(world.supervisor).waiting == []
    sign_in(client, world.supervisor)
    page = client.get("/admin/").content.decode()
    assert "Nothing waiting." in page and 'class="todo"' not in page
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    assert "कुछ भी प्रतीक्षा में नहीं है।" in client.get("/admin/").content.decode()


def test_the_page_links_each_item_to_where_it_is_done(client, world):
    waiting_enrolments(world, WAITING[:2])
    sign_in(client, world.supervisor)
    page = client.get("/admin/").content.decode()
    assert (
        '<a href="/admin/accounts/user/?status__exact=pending_approval">2 enrolments waiting for approval</a>' in page
    )
    assert '<span class="who">Sunita Devi and Ravi Kumar</span>' in page
    assert "Nothing waiting." not in page and "devices waiting" not in page  # only what waits


# --- The state administrator's districts ----------------------------------------------------------------


@pytest.fixture
def state_of_two_districts(world, settings):
    waiting_enrolments(world, WAITING[:2])  # Lucknow
    WorkerFactory(facility=world.far_facility, status=Status.SUSPENDED, suspension_cause="manual")  # Varanasi
    WorkerFactory(facility=world.far_facility, status=Status.DEACTIVATED)  # not counted as active
    LoginHold.objects.create(user=world.worker, lockouts=3)  # Lucknow, a worker
    attempt(world.far_supervisor, "10.0.0.5", settings.AXES_FAILURE_LIMIT, ago=timedelta(minutes=1))  # Varanasi
    Alert.objects.create(rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.far_worker, evidence={})
    Alert.objects.create(rule="night_views", severity=Alert.Severity.LOW, subject=world.far_worker, evidence={})
    Alert.objects.create(rule="night_views", severity=Alert.Severity.LOW, subject=world.worker, evidence={})
    views(world.worker, 4)
    views(world.far_worker, 7)
    job_run("anomalies")
    return world


def test_the_state_administrator_reads_each_districts_figures(state_of_two_districts):
    world = state_of_two_districts
    rows = {row.name: [cell.count for cell in row.cells] for row in dashboard_for(world.state_admin).districts}
    #          workers waiting locked suspended alerts views
    assert rows == {"Lucknow": [3, 2, 1, 0, 1, 4], "Varanasi": [1, 0, 1, 1, 2, 7]}


def test_each_district_figure_links_to_its_list_narrowed_to_the_district(client, state_of_two_districts):
    world = state_of_two_districts
    lucknow = next(r for r in dashboard_for(world.state_admin).districts if r.name == "Lucknow")
    pk = world.district.pk
    assert [cell.url for cell in lucknow.cells] == [
        f"/admin/accounts/user/?district={pk}&role__exact=worker&status__exact=active",
        f"/admin/accounts/user/?district={pk}&status__exact=pending_approval",
        f"/admin/accounts/user/?district={pk}&lock=now",
        f"/admin/accounts/user/?district={pk}&status__exact=suspended",
        f"/admin/accounts/alert/?district={pk}&status__exact=open",
        "",  # the week's views: no list narrows to them
    ]
    sign_in(client, world.state_admin)
    listed = client.get(lucknow.workers.url)
    assert listed.status_code == 200
    assert {u.username for u in listed.context["cl"].result_list} == {"asha", "ravi", "meena"}
    alerts = client.get(lucknow.alerts.url)
    assert [a.subject.username for a in alerts.context["cl"].result_list] == ["asha"]


def test_the_district_filter_never_widens_a_list(client, world):
    """A district the filter does not offer (outside the viewer's area, or no district at all) is refused
    with a 400 by the console's guard of declared filter values, never answered with a wider list."""
    sign_in(client, world.state_admin)
    other_state = world.other_state.districts.create(code="200", name="Patna")
    for value in (str(other_state.pk), "x", "9" * 30):
        assert client.get(f"/admin/accounts/user/?district={value}").status_code == 400, value
    mine = client.get(f"/admin/accounts/user/?district={world.district.pk}")
    assert mine.status_code == 200 and mine.context["cl"].result_list
    sign_in(client, world.supervisor)
    assert client.get(f"/admin/accounts/user/?district={world.other_district.pk}").status_code == 400


def test_only_a_state_administrator_gets_the_table(client, state_of_two_districts):
    world = state_of_two_districts
    assert dashboard_for(world.supervisor).districts == []
    sign_in(client, world.state_admin)
    page = client.get("/admin/").content.decode()
    assert "Record views this week" in page and page.count('<tr>\n          <th scope="row">') == 2
    sign_in(client, world.supervisor)
    assert "Record views this week" not in client.get("/admin/").content.decode()


def test_the_state_dashboard_costs_the_same_queries_with_more_districts_and_accounts(world):
    counts = []
    for n in (1, 6):
        for i in range(n):
            district = world.state.districts.create(code=f"{n}{i}", name=f"District {n}-{i}")
            facility = district.facilities.create(code=f"10903{n}{i:04d}", name=f"PHC {n}-{i}")
            for _ in range(3):
                views(WorkerFactory(facility=facility), 2)
            SupervisorFactory(district=district)
            LoginHold.objects.create(user=WorkerFactory(facility=facility), lockouts=3)
        job_run("anomalies")
        with CaptureQueriesContext(connection) as queries:
            d = dashboard_for(world.state_admin)
        counts.append(len(queries))
    assert len(d.districts) == 2 + 1 + 6
    assert counts[0] == counts[1], counts


# --- The header per role -------------------------------------------------------------------------------


def test_the_header_names_the_console_by_role_and_place(client, world):
    assert console_header(world.supervisor) == "District supervisor console — Lucknow"
    assert console_header(world.state_admin) == "State administrator console — Uttar Pradesh"
    operator = User(username="operator", role="", is_superuser=True, is_staff=True)  # set-up, no governed role
    assert console_header(operator) == "Operator console"
    type(world.district).objects.filter(pk=world.district.pk).update(name_hi="लखनऊ")
    type(world.state).objects.filter(pk=world.state.pk).update(name_hi="उत्तर प्रदेश")
    with translation.override("hi"):
        assert console_header(world.supervisor) == "ज़िला पर्यवेक्षक कंसोल — लखनऊ"
        assert console_header(world.state_admin) == "राज्य प्रशासक कंसोल — उत्तर प्रदेश"
        assert console_header(operator) == "ऑपरेटर कंसोल"
    sign_in(client, world.state_admin)
    page = client.get("/admin/accounts/user/").content.decode()  # every console page, not only the index
    assert "State administrator console — Uttar Pradesh" in page and "supervisor console" not in page


# --- The chart -----------------------------------------------------------------------------------------


def test_the_chart_names_its_days_and_gives_its_figures_without_hover(client, world):
    views(world.worker, 5)
    views(world.worker, 2, at=timezone.now() - timedelta(days=3))
    job_run("anomalies")
    chart = dashboard_for(world.supervisor).chart
    assert (chart.total, chart.most) == (7, 5)
    assert [b.anchor for b in chart.bars if b.labelled] == ["start", "middle", "end"]
    assert chart.peak.day == chart.days[-1][0] and chart.peak.count == 5
    sign_in(client, world.supervisor)
    page = client.get("/admin/").content.decode()
    first, today = chart.days[0][0], chart.days[-1][0]
    for day in (first, today):
        assert f'class="day">{day.day} {day:%b} {day.year}</text>' in page
    summary = " ".join(page.split('id="views-summary" class="summary">')[1].split("</p>")[0].split())
    assert summary == f"7 record views in 30 days. The busiest day was {today.day} {today:%b} {today.year}, with 5."
    assert page.count('<tr><th scope="row">') >= 30  # the table of every day
    assert 'class="value">5</text>' in page
