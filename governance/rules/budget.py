"""daily_budget: the account used every record look-up of its daily limit (PRAHARI_DAILY_VIEW_BUDGET).

High. The read path (records/services.py) refuses every further look-up that day and raises this alert once
a day, with the day and the budget; the day's refused look-ups are its events.
"""

from __future__ import annotations

from datetime import datetime

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance.rules.base import ACCESS, Rule, Severity, Words
from governance.rules.words import number


def _lines(evidence: dict, alert) -> list[str]:
    day = date_format(datetime.fromisoformat(evidence["day"]), "DATE_FORMAT")
    return [
        _("All %(budget)s record look-ups of %(day)s were used; every further look-up that day was refused.")
        % {"budget": number(evidence["budget"]), "day": day}
    ]


RULE = Rule(
    name="daily_budget",
    severity=Severity.HIGH,
    log=ACCESS,
    words=Words(
        title=gettext_lazy("Daily limit used up"),
        meaning=gettext_lazy(
            "The account used every record look-up of its daily limit; further look-ups that day were refused. "
            "Check what work needed so many."
        ),
        lines=_lines,
        day_of_refusals=True,
    ),
)
