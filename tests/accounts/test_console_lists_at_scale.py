"""Console lists at a district's scale: the user list's queries do not grow with the number of workers,
and past the cap the list says "more than" instead of counting every row (P6)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.admin_common import CappedPaginator
from accounts.models import Alert
from records.audit import access_event_append
from tests.conftest import sign_in
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/admin/", "/admin/accounts/user/", "/admin/records/accessevent/"])
def test_the_queries_of_a_console_page_do_not_grow_with_the_district(client, world, url):
    sign_in(client, world.supervisor)
    counts = []
    for n in (3, 40):
        for _ in range(n):
            worker = WorkerFactory(facility=world.facility)
            access_event_append(actor=worker, action="view", outcome="allowed", purpose="due_dose")
        counts.append(_queries(client, url))
    assert counts[0] == counts[1], counts


def test_past_the_cap_the_list_says_more_than_and_counts_no_further(client, world, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "CAP", 8)
    sign_in(client, world.supervisor)
    for _ in range(3):
        WorkerFactory(facility=world.facility)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "More than" not in page and "6 accounts" in page  # asha, ravi, meena and three more: counted
    for _ in range(20):
        WorkerFactory(facility=world.facility)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "More than 8 accounts: narrow the list with search or filters." in page
    assert "26 accounts" not in page
    WorkerFactory(facility=world.facility, username="pragya.unique")
    searched = client.get("/admin/accounts/user/?q=pragya.unique").content.decode()
    assert "1 account" in searched and "More than" not in searched


def test_the_alert_list_counts_no_further_than_the_cap_and_its_queries_stay(client, world, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "CAP", 8)
    sign_in(client, world.supervisor)
    counts = []
    for n in (3, 30):
        for _ in range(n):
            Alert.objects.create(rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={})
        counts.append(_queries(client, "/admin/accounts/alert/"))
    assert counts[0] == counts[1], counts
    page = client.get("/admin/accounts/alert/").content.decode()
    assert "More than 8 alerts: narrow the list with search or filters." in page and "33 alerts" not in page
