"""unexplained_views and unexplained_views_week: records opened that no real work explains (records/explain.py).

- `unexplained_views`: more than PRAHARI_UNEXPLAINED_DAY_LIMIT unexplained views and reveals in one local day.
  Medium, for a supervisor to judge: the review queue shows them, and accepting one explains it.
- `unexplained_views_week`: more than PRAHARI_UNEXPLAINED_WEEK_LIMIT in seven local days (the day flagged and
  the six before it). High: the account is suspended, as a patient insider reading ~250 records a day at a
  human pace stays under every other rule.

The anomalies run explains what it scores first (governance/explain.py), so every event it counts is judged.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, DAY, EVENTS, LOOKED, Cte, Rule, Severity, Window, Words
from governance.rules.days import day, day_window
from governance.rules.words import figures, span
from records.models import AccessExplanation

EXPLANATIONS = AccessExplanation._meta.db_table
UNEXPLAINED = f"{LOOKED} AND NOT EXISTS (SELECT 1 FROM {EXPLANATIONS} x WHERE x.event_id = {EVENTS}.id)"

UNEXPLAINED_DAYS = Cte(
    "unexplained_days",
    lambda scan: (
        f"""
            SELECT c.actor_id, {day("c.t", scan)} AS d, COUNT(*) AS views,
                   MAX(CASE WHEN c.id > %(wm)s THEN 1 ELSE 0 END) AS new_view
            FROM ctx c
            WHERE c.looked = 1 AND NOT EXISTS (SELECT 1 FROM {EXPLANATIONS} x WHERE x.event_id = c.id)
            GROUP BY 1, 2
        """
    ),
)


def _day_select(scan) -> str:
    return f"""SELECT actor_id, d AS day, views FROM unexplained_days
        WHERE new_view = 1 AND views > {int(settings.PRAHARI_UNEXPLAINED_DAY_LIMIT)}"""


def _week_select(scan) -> str:
    return f"""SELECT actor_id, d AS day, week AS views FROM (
            SELECT actor_id, d, new_view,
                   SUM(views) OVER (PARTITION BY actor_id ORDER BY d RANGE BETWEEN 6 PRECEDING AND CURRENT ROW) AS week
            FROM unexplained_days) w
        WHERE new_view = 1 AND week > {int(settings.PRAHARI_UNEXPLAINED_WEEK_LIMIT)}"""


def _day_window(scan, row) -> Window:
    return Window(*day_window(scan, row["day"]), int(row["views"]), settings.PRAHARI_UNEXPLAINED_DAY_LIMIT)


def _week_window(scan, row) -> Window:
    start, end = day_window(scan, row["day"])
    return Window(start - 6 * DAY, end, int(row["views"]), settings.PRAHARI_UNEXPLAINED_WEEK_LIMIT)


def _day_lines(evidence: dict, alert) -> list[str]:
    if evidence.get("raised_from") == "review_queue":  # raised by a supervisor (governance/unexplained.py)
        return [
            _(
                "Raised from the review queue: %(count)s records opened from %(start)s to %(end)s that no "
                "appointment, dose or consent explains. The supervisor's reason: %(reason)s"
            )
            % {**figures(evidence), **span(evidence), "reason": evidence["reason"]}
        ]
    return [
        _(
            "%(count)s records opened on %(day)s that no appointment, dose or consent explains; more than "
            "%(threshold)s in a day raise this alert."
        )
        % {**figures(evidence), "day": span(evidence)["day"]}
    ]


def _week_lines(evidence: dict, alert) -> list[str]:
    return [
        _(
            "%(count)s records opened from %(start)s to %(end)s that no appointment, dose or consent explains; "
            "more than %(threshold)s in seven days raise this alert."
        )
        % {**figures(evidence), **span(evidence)}
    ]


DAY_RULE = Rule(
    name="unexplained_views",
    severity=Severity.MEDIUM,
    log=ACCESS,
    select=_day_select,
    columns=("day", "views"),
    ctes=(UNEXPLAINED_DAYS,),
    window=_day_window,
    counts=UNEXPLAINED,
    lookback=lambda: timedelta(days=1),
    words=Words(
        title=gettext_lazy("Records opened without a reason"),
        meaning=gettext_lazy(
            "Many records opened in one day that no appointment, dose given or beneficiary's consent explains. "
            "Check the review queue: accept the look-ups that were real work, with a reason."
        ),
        lines=_day_lines,
        summary=gettext_lazy("%(count)s unexplained records opened in one day (more than %(threshold)s)."),
    ),
)

WEEK_RULE = Rule(
    name="unexplained_views_week",
    severity=Severity.HIGH,
    log=ACCESS,
    select=_week_select,
    columns=("day", "views"),
    ctes=(UNEXPLAINED_DAYS,),
    window=_week_window,
    counts=UNEXPLAINED,
    lookback=lambda: timedelta(days=7),
    words=Words(
        title=gettext_lazy("Records opened without a reason, week after week"),
        meaning=gettext_lazy(
            "Very many records opened in seven days that no real work explains: the pattern of someone "
            "reading records slowly to stay under the other limits. The account was suspended."
        ),
        lines=_week_lines,
        summary=gettext_lazy("%(count)s unexplained records opened in seven days (more than %(threshold)s)."),
    ),
)
