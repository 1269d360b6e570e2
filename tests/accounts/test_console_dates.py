"""The logs' date drill-down comes from the calendar: no query of the rows, links that keep the list's filters."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.admin_dates import calendar_choices
from records.audit import access_event_append
from tests.conftest import sign_in

TODAY = date(2026, 12, 4)


def titles(choices: dict) -> list[str]:
    return [choice["title"] for choice in choices["choices"]]


def test_years_then_months_then_days_never_past_today():
    top = calendar_choices({"action": ["view"], "p": ["3"]}, "created_at", years=2, today=TODAY)
    assert titles(top) == ["2025", "2026"] and top["back"] is None
    assert top["choices"][0]["link"] == "?action=view&created_at__year=2025"  # the filter stays, the page goes
    year = calendar_choices({"created_at__year": ["2026"]}, "created_at", years=2, today=TODAY)
    assert len(year["choices"]) == 12 and year["back"]["link"] == "?"
    assert len(calendar_choices({"created_at__year": ["2027"]}, "created_at", years=2, today=TODAY)["choices"]) == 0
    month = calendar_choices(
        {"created_at__year": ["2026"], "created_at__month": ["12"]}, "created_at", years=2, today=TODAY
    )
    assert len(month["choices"]) == 4 and month["choices"][-1]["link"].endswith("created_at__day=4")
    february = calendar_choices(
        {"created_at__year": ["2024"], "created_at__month": ["2"]}, "created_at", years=2, today=TODAY
    )
    assert len(february["choices"]) == 29
    day = calendar_choices(
        {"created_at__year": ["2026"], "created_at__month": ["11"], "created_at__day": ["30"]},
        "created_at",
        years=2,
        today=TODAY,
    )
    assert (
        len(day["choices"]) == 1 and "link" not in day["choices"][0] and "created_at__month=11" in day["back"]["link"]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/records/accessevent/", "/admin/accounts/accountevent/"])
def test_a_log_page_asks_its_rows_for_no_dates(client, world, url):
    sign_in(client, world.supervisor)
    access_event_append(actor=world.worker, action="view", outcome="allowed", purpose="due_dose")
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url)
    assert page.status_code == 200 and b'class="toplinks"' in page.content
    dated = [q["sql"] for q in captured if "DATE_TRUNC" in q["sql"].upper() or "MIN(" in q["sql"].upper()]
    assert dated == []
    assert client.get(f"{url}?created_at__year=2026&created_at__month=2&created_at__day=30").status_code == 400
