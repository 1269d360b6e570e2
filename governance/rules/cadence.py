"""cadence: PRAHARI_ANOMALY_CADENCE_REQUESTS consecutive requests (any action, any outcome) whose gaps have a
coefficient of variation (population standard deviation / mean) below CADENCE_CV_PERCENT.

High, and the account suspended at once: a program makes such requests, not a person.

"Consecutive" follows the account's chain (`actor_seq`), so the window is exact whatever the pace. The append
keeps each event's figures (`pace_mean`, `pace_sd`: records/audit.py `pace`), so the rule reads only the new
events: no walk of every chain in order. The window starts CADENCE_REQUESTS − 1 mean gaps before the event
(the gaps add up to its span). All-zero gaps count as machine-like too.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, EVERY_EVENT, Rule, Severity, Window, Words
from governance.rules.words import figures, number


def _select(scan) -> str:
    requests, cv = settings.PRAHARI_ANOMALY_CADENCE_REQUESTS, settings.PRAHARI_ANOMALY_CADENCE_CV_PERCENT / 100
    gaps = max(int(requests), 2) - 1
    return f"""SELECT actor_id, t - {gaps} * pace_mean AS window_start, t AS window_end,
               pace_mean AS mean_gap, pace_sd AS gap_sd
        FROM ctx WHERE id > %(wm)s AND pace_sd IS NOT NULL AND (pace_sd = 0 OR pace_sd < {cv!r} * ABS(pace_mean))"""


def _window(scan, row) -> Window:
    mean, deviation = row["mean_gap"], row["gap_sd"]
    spread = deviation / mean if mean > 0 else 0.0
    numbers = {"mean_gap_seconds": round(mean, 3), "gap_variation_percent": round(100 * spread, 1)}
    cv = settings.PRAHARI_ANOMALY_CADENCE_CV_PERCENT / 100
    requests = settings.PRAHARI_ANOMALY_CADENCE_REQUESTS
    return Window(row["window_start"], row["window_end"], requests, cv * 100, numbers)


def _lines(evidence: dict, alert) -> list[str]:
    return [
        _(
            "%(count)s requests in a row, one every %(gap)s seconds on average, the gaps varying by only "
            "%(variation)s%%; under %(threshold)s%% looks like a program, not a person."
        )
        % {
            **figures(evidence),
            "gap": number(evidence["mean_gap_seconds"]),
            "variation": number(evidence["gap_variation_percent"]),
        }
    ]


RULE = Rule(
    name="cadence",
    severity=Severity.HIGH,
    log=ACCESS,
    select=_select,
    columns=("window_start", "window_end", "mean_gap", "gap_sd"),
    window=_window,
    counts=EVERY_EVENT,
    words=Words(
        title=gettext_lazy("Machine-like pace"),
        meaning=gettext_lazy(
            "Many requests in a row at an almost even pace, as a program makes them, not a person. "
            "The account was suspended when the alert was raised."
        ),
        lines=_lines,
        window_line=gettext_lazy("From %(start)s to %(end)s: %(events)s requests in all."),
        summary=gettext_lazy(
            "%(count)s requests in a row at a machine-like pace: one every %(mean_gap_seconds)s seconds, "
            "varying by %(gap_variation_percent)s%% (less than %(threshold)s%%)."
        ),
    ),
)
