"""volume_burst: more than PRAHARI_ANOMALY_BURST_VIEWS record views within PRAHARI_ANOMALY_BURST_MINUTES.

High, and the account suspended at once: the limit is an absolute cap that no legitimate task reaches.

A window of one span lies within two consecutive buckets of six spans (an hour), so it holds at most twice
the account's busiest bucket: an account whose every bucket holds at most half the limit has no burst. Only
the other accounts' views are read again (by the account and time index) and counted window by window.
(Summing the buckets by consecutive pairs rules out a few more accounts, but grouping the pairs costs more
than the windows of the accounts it would rule out.)
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, EVENTS, VIEW, Cte, Rule, Severity, Window, Words, epoch, floor, seconds
from governance.rules.words import figures


def _span() -> float:
    return settings.PRAHARI_ANOMALY_BURST_MINUTES * 60.0


def _limit() -> int:
    return int(settings.PRAHARI_ANOMALY_BURST_VIEWS)


BUCKETS = Cte(
    "buckets",
    lambda scan: (
        f"""
            SELECT actor_id, {floor(f"t / {6 * _span()!r}")} AS b, SUM(viewed) AS n FROM ctx
            WHERE created_at >= %(since_hour)s GROUP BY 1, 2
        """
    ),
)
BURSTING = Cte(
    "bursting",
    lambda scan: f"SELECT actor_id FROM buckets GROUP BY actor_id HAVING 2 * MAX(n) > {_limit()}",
    needs=(BUCKETS,),
)
BURSTS = Cte(
    "bursts",
    lambda scan: (
        f"""
            SELECT e.id, e.actor_id, {epoch("e.created_at")} AS t, COUNT(*) OVER (
                PARTITION BY e.actor_id ORDER BY {epoch("e.created_at")}
                RANGE BETWEEN {seconds(_span())} PRECEDING AND CURRENT ROW
            ) AS n
            FROM bursting b JOIN {EVENTS} e ON e.actor_id = b.actor_id
            WHERE e.created_at >= %(since_hour)s AND e.id <= %(hi)s AND e.{VIEW}
        """
    ),
    needs=(BURSTING,),
)


def _select(scan) -> str:
    return f"""SELECT actor_id, t - {_span()!r} AS window_start, t AS window_end, n AS views
        FROM bursts WHERE id > %(wm)s AND n > {_limit()}"""


def _window(scan, row) -> Window:
    minutes = settings.PRAHARI_ANOMALY_BURST_MINUTES
    views, limit = int(row["views"]), settings.PRAHARI_ANOMALY_BURST_VIEWS
    return Window(row["window_start"], row["window_end"], views, limit, {"minutes": minutes})


def _lines(evidence: dict, alert) -> list[str]:
    return [
        _("%(count)s record views within %(minutes)s minutes; more than %(threshold)s raise this alert.")
        % figures(evidence)
    ]


RULE = Rule(
    name="volume_burst",
    severity=Severity.HIGH,
    log=ACCESS,
    select=_select,
    columns=("window_start", "window_end", "views"),
    ctes=(BURSTS,),
    window=_window,
    counts=VIEW,
    lookback=lambda: timedelta(hours=1),
    words=Words(
        title=gettext_lazy("Burst of record views"),
        meaning=gettext_lazy(
            "More record views in a few minutes than any task at a vaccination centre needs: records may be "
            "being copied out. The account was suspended when the alert was raised."
        ),
        lines=_lines,
        window_line=gettext_lazy("From %(start)s to %(end)s: %(events)s record views in all."),
        summary=gettext_lazy("%(count)s record views within %(minutes)s minutes (more than %(threshold)s)."),
    ),
)
