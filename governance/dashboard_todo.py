"""The dashboard's to-do list: what waits for the viewer today, each item named and linked to where it is done.

One query per item whatever the number of accounts: a window count gives the total beside the first
NAMES_SHOWN rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Count, QuerySet, Window
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Alert, RegisteredDevice, Status
from accounts.services.lockouts import locked_now_q
from governance.anomalies import SUSPENDING
from governance.reviews import DUE_SOON_DAYS, reviews_due_soon, reviews_overdue

NAMES_SHOWN = 3
_PERSON = ("first_name", "last_name", "username")


def console_url(name: str, **filters) -> str:
    """The console page `name` (an admin URL name), narrowed by `filters` (its query string)."""
    return f"{reverse(name)}?{urlencode(filters)}" if filters else reverse(name)


def names_in_words(names: list[str], total: int) -> str:
    """ "Sunita Devi, Ravi Kumar and 3 more": the names shown, then how many are not."""
    if not names:
        return ""
    rest = total - len(names)
    if rest > 0:
        more = ngettext("%(count)d more", "%(count)d more", rest) % {"count": rest}
        return _("%(names)s and %(more)s") % {"names": ", ".join(names), "more": more}
    if len(names) == 1:
        return names[0]
    return _("%(names)s and %(last)s") % {"names": ", ".join(names[:-1]), "last": names[-1]}


def _person(row: dict, prefix: str = "") -> str:
    full = f"{row[prefix + 'first_name']} {row[prefix + 'last_name']}".strip()
    return full or row[prefix + "username"]


@dataclass
class ToDo:
    """One item of the to-do list: how many, the first few people it concerns, where it is done."""

    kind: str  # enrolments | devices | locked | alerts | overdue | due (a hook for styles and tests)
    count: int
    url: str
    names: list[str] = field(default_factory=list)
    words: Callable[[int], str] = field(default=str, repr=False)

    @property
    def text(self) -> str:
        return self.words(self.count)

    @property
    def who(self) -> str:
        return names_in_words(self.names, self.count)


def _first_and_total(rows: QuerySet, people: str = "") -> tuple[int, list[str]]:
    """The number of `rows` and the names of the people of the first NAMES_SHOWN, in one query."""
    fields = [f"{people}__{f}" if people else f for f in _PERSON]
    found = list(rows.annotate(total=Window(Count("pk"))).values(*fields, "total")[:NAMES_SHOWN])
    prefix = f"{people}__" if people else ""
    names = list(dict.fromkeys(_person(row, prefix) for row in found))  # one person once
    return (found[0]["total"] if found else 0), names


def _item(kind: str, rows: QuerySet, url: str, words: Callable[[int], str], people: str = "") -> ToDo:
    count, names = _first_and_total(rows, people)
    return ToDo(kind=kind, count=count, url=url, names=names, words=words)


def todo_for(users: QuerySet, *, now: datetime) -> list[ToDo]:
    """What waits among `users` (the viewer's governable accounts), in the order a supervisor acts on it."""
    users_page = "admin:accounts_user_changelist"
    return [
        _item(
            "enrolments",
            users.filter(status=Status.PENDING_APPROVAL).order_by("date_joined", "pk"),
            console_url(users_page, status__exact=Status.PENDING_APPROVAL),
            lambda n: (
                ngettext("%(count)d enrolment waiting for approval", "%(count)d enrolments waiting for approval", n)
                % {"count": n}
            ),
        ),
        _item(
            "devices",
            RegisteredDevice.objects.filter(user__in=users, status=RegisteredDevice.Status.PENDING).order_by(
                "created_at", "pk"
            ),
            console_url("admin:accounts_registereddevice_changelist", status__exact=RegisteredDevice.Status.PENDING),
            lambda n: (
                ngettext("%(count)d device waiting for approval", "%(count)d devices waiting for approval", n)
                % {"count": n}
            ),
            people="user",
        ),
        _item(
            "locked",
            users.filter(locked_now_q(now=now)).order_by("username"),
            console_url(users_page, lock="now"),
            lambda n: ngettext("%(count)d account locked now", "%(count)d accounts locked now", n) % {"count": n},
        ),
        _item(
            "alerts",
            Alert.objects.filter(subject__in=users, status=Alert.State.OPEN, severity__in=SUSPENDING).order_by(
                "-severity", "-created_at", "pk"
            ),
            console_url("admin:accounts_alert_changelist", status__exact=Alert.State.OPEN),
            lambda n: (
                ngettext(
                    "%(count)d open alert of high or critical severity",
                    "%(count)d open alerts of high or critical severity",
                    n,
                )
                % {"count": n}
            ),
            people="subject",
        ),
        _item(
            "overdue",
            reviews_overdue(users, now=now).order_by("review_due_at", "pk"),
            console_url(users_page, reverification="overdue"),
            lambda n: (
                ngettext("%(count)d re-verification overdue", "%(count)d re-verifications overdue", n) % {"count": n}
            ),
        ),
        _item(
            "due",
            reviews_due_soon(users, now=now).order_by("review_due_at", "pk"),
            console_url(users_page, reverification="soon"),
            lambda n: (
                ngettext(
                    "%(count)d re-verification due within %(days)d days",
                    "%(count)d re-verifications due within %(days)d days",
                    n,
                )
                % {"count": n, "days": DUE_SOON_DAYS}
            ),
        ),
    ]
