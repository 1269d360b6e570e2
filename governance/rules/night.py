"""night_views: more than PRAHARI_ANOMALY_NIGHT_VIEWS record views in one night (NIGHT_START_HOUR to
NIGHT_END_HOUR, local).

Medium, for a supervisor to judge: night shifts exist.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, VIEW, Rule, Severity, Window, Words
from governance.rules.days import NIGHTS, night_window
from governance.rules.words import figures, span


def _select(scan) -> str:
    return f"""SELECT actor_id, nd AS night, views FROM nights
        WHERE new_view = 1 AND views > {int(settings.PRAHARI_ANOMALY_NIGHT_VIEWS)}"""


def _window(scan, row) -> Window:
    return Window(*night_window(scan, row["night"]), int(row["views"]), settings.PRAHARI_ANOMALY_NIGHT_VIEWS)


def _lines(evidence: dict, alert) -> list[str]:
    return [
        _("%(count)s record views in the night from %(start)s to %(end)s; more than %(threshold)s raise this alert.")
        % {**figures(evidence), **span(evidence)}
    ]


def _hours() -> dict:
    return {"start": settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, "end": settings.PRAHARI_ANOMALY_NIGHT_END_HOUR}


RULE = Rule(
    name="night_views",
    severity=Severity.MEDIUM,
    log=ACCESS,
    select=_select,
    columns=("night", "views"),
    ctes=(NIGHTS,),
    window=_window,
    counts=VIEW,
    lookback=lambda: timedelta(days=1),
    words=Words(
        title=gettext_lazy("Record views at night"),
        meaning=gettext_lazy(
            "Many record views between %(start)02d:00 and %(end)02d:00. Night shifts exist: check the worker's roster."
        ),
        meaning_figures=_hours,
        lines=_lines,
        summary=gettext_lazy("%(count)s record views at night (more than %(threshold)s)."),
    ),
)
