"""Running tallies of record views for the console: per district and day, per reader and week.

The `anomalies` job adds each window of new access events it scores (the same ids, in the same
transaction as its watermark moves), so every allowed view is counted exactly once; the dashboard
then reads a few rows per district instead of counting events (benchmark P6). Days and weeks are
India's (settings.TIME_ZONE); a week starts on Monday. The job's access-rules statement adds them from
its own grouping by account and local day (`view_tallies_ctes`), whose local day is UTC plus the zone's
offset at the run, as for the rules: exact for a zone without summer time, like India's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from accounts.models import Facility, User
from governance.models import DistrictViewDay, ReaderViewWeek

_DAYS, _WEEKS = DistrictViewDay._meta.db_table, ReaderViewWeek._meta.db_table
# A reader's district: their facility's, or their own (supervisors); readers with neither are not counted.
_DISTRICT = "COALESCE(f.district_id, u.district_id)"
_READER = (
    f"JOIN {User._meta.db_table} u ON u.id = {{actor}} LEFT JOIN {Facility._meta.db_table} f ON f.id = u.facility_id"
)
_ADD_DAYS = f"ON CONFLICT (district_id, day, role) DO UPDATE SET views = {_DAYS}.views + excluded.views"
_ADD_WEEKS = f"ON CONFLICT (district_id, week, actor_id) DO UPDATE SET views = {_WEEKS}.views + excluded.views"


def _local_zone():
    return ZoneInfo(settings.TIME_ZONE)


def view_tallies_ctes(source: str) -> list[str]:
    """The two data-modifying WITH queries that add the rows of `source` to the tallies, for a
    statement that already groups the new events by account and local day (governance/anomaly_rules.py).

    `source` has one row per account and local day: `actor_id`, `d` (the day as a number of days since
    1970-01-01, local time) and `tally` (new allowed views). A week starts on Monday (1970-01-01 was a
    Thursday: day d's Monday is d − (d + 3) mod 7).
    """
    readers = f"FROM {source} s {_READER.format(actor='s.actor_id')} WHERE s.tally > 0 AND {_DISTRICT} IS NOT NULL"
    monday = "DATE '1970-01-01' + CAST(s.d - MOD(s.d + 3, 7) AS INTEGER)"
    return [
        f"""tallied_days AS (
            INSERT INTO {_DAYS} (district_id, day, role, views)
            SELECT {_DISTRICT}, DATE '1970-01-01' + CAST(s.d AS INTEGER), u.role, SUM(s.tally) {readers}
            GROUP BY 1, 2, 3 {_ADD_DAYS} RETURNING 1
        )""",
        f"""tallied_weeks AS (
            INSERT INTO {_WEEKS} (district_id, week, actor_id, role, views)
            SELECT {_DISTRICT}, {monday}, u.id, u.role, SUM(s.tally) {readers}
            GROUP BY 1, 2, 3, 4 {_ADD_WEEKS} RETURNING 1
        )""",
    ]


def local_today(now: datetime) -> date:
    return timezone.localtime(now, _local_zone()).date()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


DAYS_KEPT = 90  # the dashboard shows 30 days and the current week; the events themselves are never pruned
WEEKS_KEPT = 8


def view_tallies_prune(*, now: datetime) -> int:
    """Delete tallies older than the console shows (the counts can be rebuilt from the access log)."""
    today = local_today(now)
    days, _ = DistrictViewDay.objects.filter(day__lt=today - timedelta(days=DAYS_KEPT)).delete()
    weeks, _ = ReaderViewWeek.objects.filter(week__lt=week_start(today) - timedelta(weeks=WEEKS_KEPT)).delete()
    return days + weeks
