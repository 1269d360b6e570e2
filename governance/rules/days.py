"""The access events grouped by account and local day, and by night: what the day rules count.

`ctx` is grouped once by (account, day, night, at night or not), a few groups per account and day, from
which the days (`DAYS`) and the nights (`NIGHTS`) are summed. The day rules (baseline.py, out_of_scope.py)
read `DAYS`, the night rule (night.py) `NIGHTS`; the same days carry the new allowed views the console's
tallies add (`tally`, governance/rules/statements.py). A day (night) counts every event of it, and is
flagged only when it holds a new event of the kind the rule counts (`new_view`, `new_oos`).

A day is a number of days since 1970-01-01, local time. A night runs from NIGHT_START_HOUR to
NIGHT_END_HOUR, local, and is keyed by the day it ends on.
"""

from __future__ import annotations

from django.conf import settings

from governance.rules.base import DAY, Cte, Scan, floor


def day(t: str, scan: Scan, shift: float = 0.0) -> str:
    """Number the local day of the epoch `t`, moved `shift` seconds later (SQL)."""
    return floor(f"({t} + {scan.offset + shift!r}) / {DAY!r}")


def night() -> tuple[float, float]:
    """Give (shift, length) of the night: a night is keyed by the day it ends on, which, moved (24 − start) hours
    later, begins at the night's start."""
    start, end = settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, settings.PRAHARI_ANOMALY_NIGHT_END_HOUR
    return (24 - start) * 3600.0, ((end - start) % 24) * 3600.0


def day_window(scan: Scan, number: float) -> tuple[float, float]:
    """Bound the local day `number`: its first and last millisecond (seconds since the epoch)."""
    start = int(number) * DAY - scan.offset
    return start, start + DAY - 0.001


def night_window(scan: Scan, number: float) -> tuple[float, float]:
    """Bound the night that ends on the local day `number`: its first and last millisecond."""
    shift, inside = night()
    start = int(number) * DAY - scan.offset - shift
    return start, start + inside - 0.001


def _grouped(scan: Scan) -> str:
    shift, inside = night()
    nights = day("t", scan, shift)
    at_night = f"CASE WHEN t + {scan.offset + shift!r} - {nights} * {DAY!r} < {inside!r} THEN 1 ELSE 0 END"
    return f"""
            SELECT actor_id, {day("t", scan)} AS d, {nights} AS nd, {at_night} AS at_night,
                   SUM(viewed) AS views, SUM(refused) AS oos, SUM(tally) AS tally,
                   MAX(CASE WHEN id > %(wm)s THEN viewed ELSE 0 END) AS new_view,
                   MAX(CASE WHEN id > %(wm)s THEN refused ELSE 0 END) AS new_oos
            FROM ctx GROUP BY 1, 2, 3, 4
        """


GROUPED = Cte("grouped", _grouped)
DAYS = Cte(
    "days",
    lambda scan: (
        """
            SELECT actor_id, d, CAST(SUM(views) AS BIGINT) AS views, CAST(SUM(oos) AS BIGINT) AS oos,
                   CAST(SUM(tally) AS BIGINT) AS tally, MAX(new_view) AS new_view, MAX(new_oos) AS new_oos
            FROM grouped GROUP BY actor_id, d
        """
    ),
    needs=(GROUPED,),
)
NIGHTS = Cte(
    "nights",
    lambda scan: (
        """
            SELECT actor_id, nd, CAST(SUM(views) AS BIGINT) AS views, MAX(new_view) AS new_view
            FROM grouped WHERE at_night = 1 GROUP BY actor_id, nd
        """
    ),
    needs=(GROUPED,),
)
