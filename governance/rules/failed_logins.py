"""failed_logins: PRAHARI_ANOMALY_FAILED_LOGINS or more failed passwords or one-time codes of one account within
PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES (the account events, with their own watermark).

Medium, for a supervisor to judge: more often someone guessing at the account than its owner misbehaving.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AccountEventType
from governance.rules.base import ACCOUNT, ACCOUNT_EVENTS, Cte, Rule, Severity, Window, Words, epoch, seconds
from governance.rules.words import figures

FAILED = f"type IN ({', '.join(str(int(t)) for t in (AccountEventType.LOGIN_FAILED, AccountEventType.OTP_FAILED))})"


def _span() -> float:
    return settings.PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES * 60.0


FAILING = Cte(
    "failing",
    lambda scan: (
        f"""
            SELECT DISTINCT subject_id FROM {ACCOUNT_EVENTS}
            WHERE id > %(wm)s AND id <= %(hi)s AND {FAILED} AND subject_id IS NOT NULL
        """
    ),
)
FAILURES = Cte(
    "failures",
    lambda scan: (
        f"""
            SELECT a.id, a.subject_id, {epoch("a.created_at")} AS t FROM {ACCOUNT_EVENTS} a
            WHERE a.subject_id IN (SELECT subject_id FROM failing) AND a.{FAILED}
              AND a.created_at >= %(since)s AND a.id <= %(hi)s
        """
    ),
    needs=(FAILING,),
)
FAILURE_WINDOWS = Cte(
    "failure_windows",
    lambda scan: (
        f"""
            SELECT id, subject_id, t, COUNT(*) OVER (
                PARTITION BY subject_id ORDER BY t RANGE BETWEEN {seconds(_span())} PRECEDING AND CURRENT ROW
            ) AS n FROM failures
        """
    ),
    needs=(FAILURES,),
)


def _select(scan) -> str:
    return f"""SELECT subject_id AS actor_id, t - {_span()!r} AS window_start, t AS window_end, n AS failures
        FROM failure_windows WHERE id > %(wm)s AND n >= {int(settings.PRAHARI_ANOMALY_FAILED_LOGINS)}"""


def _window(scan, row) -> Window:
    minutes = settings.PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES
    failures, limit = int(row["failures"]), settings.PRAHARI_ANOMALY_FAILED_LOGINS
    return Window(row["window_start"], row["window_end"], failures, limit, {"minutes": minutes})


def _lines(evidence: dict, alert) -> list[str]:
    lines = [
        _(
            "%(count)s failed passwords or one-time codes within %(minutes)s minutes; %(threshold)s or more "
            "raise this alert."
        )
        % figures(evidence)
    ]
    if evidence.get("ips"):
        lines.append(_("Tried from: %(ips)s.") % {"ips": ", ".join(evidence["ips"])})
    return lines


RULE = Rule(
    name="failed_logins",
    severity=Severity.MEDIUM,
    log=ACCOUNT,
    select=_select,
    columns=("window_start", "window_end", "failures"),
    ctes=(FAILURE_WINDOWS,),
    window=_window,
    counts=FAILED,
    lookback=lambda: timedelta(seconds=_span()),
    lists_ips=True,
    words=Words(
        title=gettext_lazy("Failed logins"),
        meaning=gettext_lazy(
            "Many wrong passwords or one-time codes in a few minutes: someone may be guessing at this account."
        ),
        lines=_lines,
        window_line=gettext_lazy("From %(start)s to %(end)s: %(events)s failed attempts in all."),
        summary=gettext_lazy(
            "%(count)s failed logins or one-time codes within %(minutes)s minutes (%(threshold)s or more)."
        ),
    ),
)
