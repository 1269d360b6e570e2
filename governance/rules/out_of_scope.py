"""out_of_scope: PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY or more requests for records outside the account's area
in one local day.

Medium, for a supervisor to judge: mistyped reference ids cause some.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, OUT_OF_SCOPE, Rule, Severity, Window, Words
from governance.rules.days import DAYS, day_window
from governance.rules.words import figures, span


def _select(scan) -> str:
    return f"""SELECT actor_id, d AS day, oos AS requests FROM days
        WHERE new_oos = 1 AND oos >= {int(settings.PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY)}"""


def _window(scan, row) -> Window:
    limit = settings.PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY
    return Window(*day_window(scan, row["day"]), int(row["requests"]), limit)


def _lines(evidence: dict, alert) -> list[str]:
    return [
        _(
            "%(count)s requests for records outside the account's area on %(day)s; %(threshold)s or more in a "
            "day raise this alert."
        )
        % {**figures(evidence), "day": span(evidence)["day"]}
    ]


RULE = Rule(
    name="out_of_scope",
    severity=Severity.MEDIUM,
    log=ACCESS,
    select=_select,
    columns=("day", "requests"),
    ctes=(DAYS,),
    window=_window,
    counts=OUT_OF_SCOPE,
    lookback=lambda: timedelta(days=1),
    words=Words(
        title=gettext_lazy("Requests outside the account's area"),
        meaning=gettext_lazy(
            "Several requests in one day for records the account may not open. Mistyped reference ids cause "
            "some; many may mean someone is trying ids."
        ),
        lines=_lines,
        summary=gettext_lazy(
            "%(count)s requests for records outside the account's area in one day (%(threshold)s or more)."
        ),
    ),
)
