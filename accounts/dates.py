"""Dates and times as people read them: local time, in the active language's one format (portal/formats)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format


def written_moment(value: datetime) -> str:
    """`value` in local time as DATETIME_FORMAT writes it (3 Dec 2026, 20:23)."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def written_date(value: date | datetime) -> str:
    """The local day of `value` as DATE_FORMAT writes it (3 Dec 2026)."""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return date_format(value, "DATE_FORMAT")
