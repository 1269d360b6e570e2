"""Numbers and times of an alert's evidence in the reader's language, for the rules' sentences.

The evidence holds numbers and local ISO times; these helpers raise KeyError, TypeError or ValueError on
evidence they cannot read, and the alert page then falls back to the stored summary.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format


def number(value) -> str:
    """Write a whole number without decimals, any other with one."""
    figure = float(value)
    return str(int(figure)) if figure.is_integer() else f"{figure:.1f}"


def local(iso: str) -> datetime:
    return timezone.localtime(datetime.fromisoformat(iso))


def moment(when: datetime) -> str:
    return date_format(when, "DATETIME_FORMAT")


def span(evidence: dict) -> dict:
    """Give {start, end, day}: the window's ends in local time (the end without its date when on the same day)."""
    start, end = local(evidence["window_start"]), local(evidence["window_end"])
    same_day = start.date() == end.date()
    return {
        "start": moment(start),
        "end": date_format(end, "TIME_FORMAT") if same_day else moment(end),
        "day": date_format(start, "DATE_FORMAT"),
    }


def figures(evidence: dict, *names: str) -> dict:
    """Write the evidence's count, threshold and minutes, and the figures `names` (those it holds)."""
    return {
        key: number(evidence[key]) for key in ("count", "threshold", "minutes", *names) if evidence.get(key) is not None
    }
