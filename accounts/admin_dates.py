"""The date drill-down of the console's logs from the calendar, not from the rows.

Django's `date_hierarchy` asks the list's rows for its choices: the first and last date, then every distinct
year, month or day among them, a sort of all the events a district has logged on every page (P6 measured
0.4-0.7 s at 200,000 events, and it grows with the log). These lists offer the calendar instead: the years of
`date_hierarchy_years` up to this one, a year's months, a month's days, never past today; a day with no
events shows an empty list. No query. The parameters are Django's own (`created_at__year`, …), checked by
the guard (accounts/admin_guard.py) before the list is built.
"""

from __future__ import annotations

import calendar
from datetime import date

from django.contrib.admin.views.main import PAGE_VAR
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def calendar_choices(query: dict[str, list[str]], field: str, *, years: int, today: date) -> dict:
    """The drill-down for the list at `query` (its GET as lists), in the context `admin/date_hierarchy.html`
    takes: {"show", "back", "choices"}."""
    parts = [f"{field}__{part}" for part in ("year", "month", "day")]
    kept = {key: values for key, values in query.items() if key not in parts and key != PAGE_VAR}

    def link(**chosen: int) -> str:
        return "?" + urlencode({**kept, **{f"{field}__{part}": value for part, value in chosen.items()}}, doseq=True)

    year, month, day = (int(query[name][-1]) if query.get(name) else None for name in parts)
    if year and month and day:
        chosen = date(year, month, day)
        back = {
            "link": link(year=year, month=month),
            "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
        }
        return {
            "show": True,
            "back": back,
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if year and month:
        last = calendar.monthrange(year, month)[1]
        days = [date(year, month, d) for d in range(1, last + 1) if date(year, month, d) <= today]
        choices = [
            {
                "link": link(year=year, month=month, day=d.day),
                "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
            }
            for d in days
        ]
        return {"show": True, "back": {"link": link(year=year), "title": str(year)}, "choices": choices}
    if year:
        months = [date(year, m, 1) for m in range(1, 13) if date(year, m, 1) <= today]
        choices = [
            {"link": link(year=year, month=m.month), "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT"))}
            for m in months
        ]
        return {"show": True, "back": {"link": link(), "title": _("All dates")}, "choices": choices}
    choices = [{"link": link(year=y), "title": str(y)} for y in range(today.year - years + 1, today.year + 1)]
    return {"show": True, "back": None, "choices": choices}


class CalendarDates:
    """A console log's date drill-down from the calendar (its change_list template renders `calendar_dates`)."""

    date_hierarchy_years = 2  # this year and the last: the logs' retention keeps about that much to browse

    def changelist_view(self, request, extra_context=None):
        dates = calendar_choices(
            dict(request.GET.lists()), self.date_hierarchy, years=self.date_hierarchy_years, today=timezone.localdate()
        )
        return super().changelist_view(request, {**(extra_context or {}), "calendar_dates": dates})
