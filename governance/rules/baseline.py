"""baseline_spike: a local day with more record views than PRAHARI_ANOMALY_BASELINE_FACTOR × the account's own
PRAHARI_ANOMALY_BASELINE_PERCENTILE of daily views over the BASELINE_DAYS before it.

Medium, for a supervisor to judge: vaccination drives are legitimate spikes.

The baseline counts the days with at least one view, and only with BASELINE_MIN_DAYS such days. The
percentile is the nearest-rank one (the value at rank ⌈p·n⌉ of the sorted days). The baseline is at least one
view, so only days above FACTOR views are compared.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, VIEW, Cte, Rule, Severity, Window, Words
from governance.rules.days import DAYS, day_window
from governance.rules.words import figures, span


def _history(scan) -> str:
    days, factor = settings.PRAHARI_ANOMALY_BASELINE_DAYS, settings.PRAHARI_ANOMALY_BASELINE_FACTOR
    return f"""
            SELECT t.actor_id, t.d, t.views AS today, h.views AS n,
                   ROW_NUMBER() OVER (PARTITION BY t.actor_id, t.d ORDER BY h.views) AS r,
                   COUNT(*) OVER (PARTITION BY t.actor_id, t.d) AS k
            FROM days t JOIN days h ON h.actor_id = t.actor_id AND h.d >= t.d - {int(days)} AND h.d < t.d
            WHERE t.new_view = 1 AND t.views > {int(factor)} AND h.views > 0
        """


HISTORY = Cte("history", _history, needs=(DAYS,))


def _select(scan) -> str:
    pct, factor = settings.PRAHARI_ANOMALY_BASELINE_PERCENTILE, settings.PRAHARI_ANOMALY_BASELINE_FACTOR
    min_days = settings.PRAHARI_ANOMALY_BASELINE_MIN_DAYS
    return f"""SELECT actor_id, d AS day, today AS views, n AS baseline, k AS history_days FROM history
        WHERE r * 100 >= {int(pct)} * k AND (r - 1) * 100 < {int(pct)} * k
          AND k >= {int(min_days)} AND today > {int(factor)} * n"""


def _window(scan, row) -> Window:
    factor, baseline = settings.PRAHARI_ANOMALY_BASELINE_FACTOR, int(row["baseline"])
    numbers = {
        "percentile": settings.PRAHARI_ANOMALY_BASELINE_PERCENTILE,
        "baseline": baseline,
        "factor": factor,
        "history_days": int(row["history_days"]),
    }
    return Window(*day_window(scan, row["day"]), int(row["views"]), factor * baseline, numbers)


def _lines(evidence: dict, alert) -> list[str]:
    n = figures(evidence, "baseline", "factor", "percentile", "history_days")
    return [
        _("%(count)s record views on %(day)s.") % {**n, "day": span(evidence)["day"]},
        _(
            "This account's usual busy day (the %(percentile)sth percentile of its %(history_days)s active days "
            "in the %(days)s before) has %(baseline)s views; more than %(factor)s times that (%(threshold)s) "
            "raise this alert."
        )
        % {**n, "days": settings.PRAHARI_ANOMALY_BASELINE_DAYS},
    ]


RULE = Rule(
    name="baseline_spike",
    severity=Severity.MEDIUM,
    log=ACCESS,
    select=_select,
    columns=("day", "views", "baseline", "history_days"),
    ctes=(HISTORY,),
    window=_window,
    counts=VIEW,
    lookback=lambda: timedelta(days=settings.PRAHARI_ANOMALY_BASELINE_DAYS + 1),
    words=Words(
        title=gettext_lazy("Far more record views than usual"),
        meaning=gettext_lazy(
            "A day with many more record views than this account's own busy days. Vaccination drives cause "
            "such days too: ask the worker and their facility."
        ),
        lines=_lines,
        summary=gettext_lazy(
            "%(count)s record views in one day, above %(factor)s× this account's usual busiest days "
            "(%(baseline)s views, the %(percentile)sth percentile of %(history_days)s days)."
        ),
    ),
)
