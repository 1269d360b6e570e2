"""The account list shows a lock (issue 15 §2): "Active · locked until 20:37", "Active · held until unlocked",
and the "Locked now" filter (`?lock=now`) lists exactly the locked accounts, at a fixed number of queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import LoginHold, User
from accounts.services.lockouts import lock_columns, lock_state
from tests.conftest import sign_in
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 14, 52, tzinfo=UTC)  # 20:22 in Asia/Kolkata
LIST = "/admin/accounts/user/"


def attempt(username: str, failures: int, *, minutes_ago: float, ip: str = "10.0.0.1") -> None:
    """A row as django-axes keeps it: `failures` counted for (username, IP), the last `minutes_ago`."""
    row = AccessAttempt.objects.create(
        username=username, ip_address=ip, user_agent="UA", failures_since_start=failures, get_data="", post_data=""
    )
    # attempt_time is set on creation (auto_now_add): moved back as time would have moved it
    AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=NOW - timedelta(minutes=minutes_ago))


def status_cells(client, url: str = LIST) -> dict[str, str]:
    """Each listed account's status column, as text."""
    response = client.get(url)
    assert response.status_code == 200
    changelist = response.context["cl"]
    admin = changelist.model_admin
    return {
        row.username: re.sub(r"</?strong[^>]*>", "", str(admin.status_and_lock(row))).replace("\u00a0", " ")
        for row in changelist.result_list
    }


@pytest.fixture
def console(client, world):
    sign_in(client, world.supervisor)
    return client


def test_the_list_says_which_accounts_are_locked_and_until_when(console, world):
    with freeze_time(NOW):
        attempt("asha", 6, minutes_ago=5, ip="10.0.0.1")
        attempt("asha", 4, minutes_ago=2, ip="10.0.0.2")  # 10 failures: locked until 5 minutes ago + 15
        attempt("ravi", 9, minutes_ago=1)  # one short of a lock
        LoginHold.objects.create(user=world.district_worker, lockouts=3)
        cells = status_cells(console)
        page = console.get(LIST).content.decode()
    assert cells == {"asha": "Active · locked until 20:32", "ravi": "Active", "meena": "Active · held until unlocked"}
    assert 'Active\u00a0· <strong class="lock-state">locked\u00a0until\u00a020:32</strong>' in page  # stands out


def test_the_locked_now_filter_lists_exactly_the_locked_accounts(console, world):
    with freeze_time(NOW):
        attempt("asha", 10, minutes_ago=14)
        attempt("ravi", 9, minutes_ago=1)
        attempt("kiran", 12, minutes_ago=1)  # locked, but another district's
        attempt("meena", 10, minutes_ago=16)  # a lock that ended a minute ago
        LoginHold.objects.create(user=world.district_worker, lockouts=3)
        assert set(status_cells(console, f"{LIST}?lock=now")) == {"asha", "meena"}
        page = console.get(LIST).content.decode()
    assert "Locked now" in page and "?lock=now" in page


@pytest.mark.parametrize("query", ["lock=yes", "lock=", "lock__exact=now", "locked=now", "lock=now&lock=all"])
def test_the_list_answers_no_other_lock_query(console, query):
    assert console.get(f"{LIST}?{query}").status_code == 400


def test_the_list_costs_the_same_queries_with_one_and_thirty_locked_accounts(console, world):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert console.get(url).status_code == 200
        return len(captured)

    counts = []
    with freeze_time(NOW):
        attempt("asha", 10, minutes_ago=3)
        for url in (LIST, f"{LIST}?lock=now"):
            counts.append(queries(url))
        for n in range(29):
            worker = WorkerFactory(facility=world.facility)
            if n % 2:
                attempt(worker.username, 10, minutes_ago=n % 14)
            else:
                LoginHold.objects.create(user=worker, lockouts=3)
        assert len(status_cells(console, f"{LIST}?lock=now")) == 30
        for url in (LIST, f"{LIST}?lock=now"):
            counts.append(queries(url))
    assert counts[:2] == counts[2:], counts


def test_the_annotated_lock_agrees_with_lock_state(world):
    """Rows at the same moment, several IPs, a hold beside a lock, an expired row: the same answer both ways."""
    with freeze_time(NOW):
        attempt("asha", 3, minutes_ago=10, ip="10.0.0.1")
        attempt("asha", 7, minutes_ago=4, ip="10.0.0.2")
        attempt("asha", 3, minutes_ago=4, ip="10.0.0.3")  # the same moment: together they reach the limit
        attempt("ravi", 10, minutes_ago=20)  # expired
        attempt("ravi", 5, minutes_ago=2, ip="10.0.0.2")
        attempt("meena", 25, minutes_ago=7)
        LoginHold.objects.create(user=world.district_worker, lockouts=3)
        LoginHold.objects.create(user=world.far_worker, lockouts=3)
        rows = User.objects.filter(is_system=False).annotate(**lock_columns())
        for row in rows:
            state = lock_state(row, now=timezone.now())
            assert (row.locked_now, row.locked_until, row.held_since) == (
                state.locked,
                state.locked_until,
                state.held_since,
            ), row.username
        locked = {row.username for row in rows if row.locked_now}
    assert locked == {"asha", "meena", "kiran"}
    assert rows.get(username="asha").locked_until == NOW - timedelta(minutes=4) + timedelta(minutes=15)


def test_the_list_is_in_hindi_for_a_hindi_supervisor(console, world):
    world.supervisor.preferred_language = "hi"
    world.supervisor.save(update_fields=["preferred_language"])
    with freeze_time(NOW):
        attempt("asha", 10, minutes_ago=5)
        LoginHold.objects.create(user=world.colleague, lockouts=3)
        page = console.get(LIST, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "20:32\u00a0तक\u00a0लॉक" in page and "अनलॉक\u00a0होने\u00a0तक\u00a0लॉक" in page and "अभी लॉक" in page
