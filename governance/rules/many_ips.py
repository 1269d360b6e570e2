"""many_ips: PRAHARI_ANOMALY_IPS_PER_HOUR or more distinct IP addresses within 60 minutes ending at a new event.

Medium, for a supervisor to judge: mobile networks change addresses.

SQL has no COUNT(DISTINCT) over a sliding frame: a correlated count per new event, each an index range scan of
that account's last hour, only for accounts with that many addresses in the last hour of `ctx` (most
accounts use one or two, so most are ruled out by grouping (account, address) pairs). MATERIALIZED: the
count is made only for the rows of those accounts, never filtered before the join.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, EVENTS, Cte, Rule, Severity, Window, Words
from governance.rules.words import figures

SPAN = 3600.0


def _limit() -> int:
    return int(settings.PRAHARI_ANOMALY_IPS_PER_HOUR)


ADDRESSED = Cte(
    "addressed",
    lambda scan: (
        f"""
            SELECT actor_id FROM (
                SELECT actor_id, ip_address FROM ctx
                WHERE ip_address IS NOT NULL AND created_at >= %(since_hour)s GROUP BY actor_id, ip_address
            ) pairs GROUP BY actor_id HAVING COUNT(*) >= {_limit()}
        """
    ),
)
ADDRESSES = Cte(
    "addresses",
    lambda scan: (
        f"""
            SELECT e.actor_id, e.t, (
                SELECT COUNT(DISTINCT o.ip_address) FROM {EVENTS} o
                WHERE o.actor_id = e.actor_id AND o.id <= %(hi)s AND o.ip_address IS NOT NULL
                  AND o.created_at >= %(since_hour)s AND o.created_at <= e.created_at
                  AND o.created_at >= e.created_at - INTERVAL '{int(SPAN)} seconds'
            ) AS n
            FROM ctx e WHERE e.id > %(wm)s AND e.ip_address IS NOT NULL
              AND e.actor_id IN (SELECT actor_id FROM addressed)
        """
    ),
    needs=(ADDRESSED,),
    materialized=True,
)


def _select(scan) -> str:
    return f"""SELECT actor_id, t - {SPAN!r} AS window_start, t AS window_end, n AS addresses FROM addresses
        WHERE n >= {_limit()}"""


def _window(scan, row) -> Window:
    limit = settings.PRAHARI_ANOMALY_IPS_PER_HOUR
    return Window(row["window_start"], row["window_end"], int(row["addresses"]), limit, {"minutes": 60})


def _lines(evidence: dict, alert) -> list[str]:
    return [
        _(
            "Requests from %(count)s different IP addresses within %(minutes)s minutes; %(threshold)s or more "
            "raise this alert."
        )
        % figures(evidence),
        _("Addresses: %(ips)s.") % {"ips": ", ".join(evidence["ips"])},
    ]


RULE = Rule(
    name="many_ips",
    severity=Severity.MEDIUM,
    log=ACCESS,
    select=_select,
    columns=("window_start", "window_end", "addresses"),
    ctes=(ADDRESSES,),
    window=_window,
    counts="ip_address IS NOT NULL",
    lookback=lambda: timedelta(hours=1),
    lists_ips=True,
    words=Words(
        title=gettext_lazy("Many IP addresses"),
        meaning=gettext_lazy(
            "Requests from several IP addresses within an hour. Mobile networks change addresses; many at "
            "once may mean the login is used by more than one person."
        ),
        lines=_lines,
        window_line=gettext_lazy("From %(start)s to %(end)s: %(events)s requests in all."),
        summary=gettext_lazy("Requests from %(count)s different IP addresses within an hour (%(threshold)s or more)."),
    ),
)
