"""The console's dashboard: scoped figures, each with the list behind it, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import Alert, LoginHold, RegisteredDevice, Status, User
from accounts.services.lifecycle import user_suspend
from governance.dashboard import dashboard_for
from governance.jobs import job_run
from records.audit import access_event_append
from tests.conftest import sign_in
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def views(user, n: int, *, at=None):
    with freeze_time(at or timezone.now()):
        for _ in range(n):
            access_event_append(actor=user, action="view", outcome="allowed", purpose="due_dose")


@pytest.fixture
def busy_district(world):
    WorkerFactory(facility=world.facility, status=Status.PENDING_APPROVAL)
    RegisteredDevice.objects.create(user=world.worker, token_hash="a" * 64, code="PEND1234", status="pending")
    LoginHold.objects.create(user=world.colleague, lockouts=3)
    user_suspend(user=world.district_worker, acting_user=world.supervisor, reason="on leave, access paused")
    Alert.objects.create(rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.worker, evidence={})
    Alert.objects.create(rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={})
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=timezone.now() + timedelta(days=5))
    views(world.worker, 4)
    views(world.colleague, 2)
    views(world.worker, 3, at=timezone.now() - timedelta(days=10))
    views(world.far_worker, 9)  # another district
    job_run("anomalies")  # counts the views into the tallies the dashboard reads
    return world


def test_the_supervisors_figures(busy_district):
    world = busy_district
    d = dashboard_for(world.supervisor)
    counts = {item.kind: item.count for item in d.todo}
    assert counts == {"enrolments": 1, "devices": 1, "locked": 1, "alerts": 1, "overdue": 0, "due": 1}
    assert [(f.label, f.count) for f in d.suspended] == [("Suspended by a supervisor", 1)]
    assert [(f.label, f.count) for f in d.alerts] == [("High", 1), ("Medium", 1)]
    assert [(f.label, f.count) for f in d.top_workers] == [("asha", 4), ("ravi", 2)]
    assert len(d.views_by_day) == 30 and d.views_by_day[-1][1] == 6 and d.views_by_day[-11][1] == 3
    assert sum(n for _day, n in d.views_by_day) == 9 and d.chart.most == 6
    assert d.item("enrolments").url == "/admin/accounts/user/?status__exact=pending_approval"
    assert d.top_workers[0].url == f"/admin/records/accessevent/?actor__id__exact={world.worker.pk}"


def test_another_districts_supervisor_sees_only_theirs(busy_district):
    d = dashboard_for(busy_district.far_supervisor)
    assert d.waiting == []
    assert d.suspended == [] and d.alerts == []
    assert [(f.label, f.count) for f in d.top_workers] == [("kiran", 9)]
    state = dashboard_for(busy_district.state_admin)
    assert sorted(f.label for f in state.top_workers) == ["asha", "kiran", "ravi"]


def test_the_queries_do_not_grow_with_workers_or_events(world):
    counts = []
    for n in (2, 20):
        for _ in range(n):
            views(WorkerFactory(facility=world.facility), 3)
        job_run("anomalies")
        with CaptureQueriesContext(connection) as queries:
            dashboard_for(world.supervisor)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_console_index_shows_the_dashboard_with_links(client, busy_district):
    sign_in(client, busy_district.supervisor)
    page = client.get("/admin/").content.decode()
    assert "1 enrolment waiting for approval" in page
    assert 'href="/admin/accounts/user/?status__exact=pending_approval"' in page
    assert page.count("<rect ") == 30 and "Record views per day, last 30 days" in page
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    assert "स्वीकृति" in client.get("/admin/").content.decode()
