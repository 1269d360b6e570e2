"""The state administrator's table: one row per district of the state, each figure linked to its list.

Four queries whatever the number of districts, accounts or alerts: the districts, the accounts grouped
by district (workers, enrolments waiting, locked, suspended), the open alerts grouped by their subject's
district, the week's record views grouped by district (from the tallies, governance/tallies.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import get_language

from accounts.models import Alert, District, Role, State, Status, User
from accounts.services.lockouts import locked_now_q
from governance.dashboard_todo import console_url

# An account's district: its facility's (workers), else its own (supervisors).
_PLACE = Coalesce("facility__district_id", "district_id")
_SUBJECTS_PLACE = Coalesce("subject__facility__district_id", "subject__district_id")


def place_name(place: State | District) -> str:
    """The state's or district's name in the active language (its Hindi name when it has one)."""
    if (get_language() or "").startswith("hi") and place.name_hi:
        return place.name_hi
    return place.name


@dataclass(frozen=True)
class Cell:
    count: int
    url: str = ""  # "" when no list narrows to it


@dataclass(frozen=True)
class DistrictRow:
    name: str
    workers: Cell
    waiting: Cell
    locked: Cell
    suspended: Cell
    alerts: Cell
    views: Cell

    @property
    def cells(self) -> tuple[Cell, ...]:
        """The figures in the table's column order."""
        return (self.workers, self.waiting, self.locked, self.suspended, self.alerts, self.views)


def _users_url(district_id: int, **filters) -> str:
    return console_url("admin:accounts_user_changelist", district=district_id, **filters)


def district_rows(viewer: User, users: QuerySet, *, views: QuerySet, now: datetime) -> list[DistrictRow]:
    """The districts of a state administrator's state (none for anyone else), by name: `users` are the
    viewer's governable accounts, `views` the week's tallies of the readers in the viewer's scope."""
    if viewer.role != Role.STATE_ADMIN or not viewer.state_id:
        return []
    districts = list(District.objects.filter(state_id=viewer.state_id).order_by("name", "pk"))
    people = {
        row["place"]: row
        for row in users.annotate(place=_PLACE)
        .values("place")
        .annotate(
            workers=Count("pk", filter=Q(role=Role.WORKER, status=Status.ACTIVE)),
            waiting=Count("pk", filter=Q(status=Status.PENDING_APPROVAL)),
            locked=Count("pk", filter=locked_now_q(now=now)),
            suspended=Count("pk", filter=Q(status=Status.SUSPENDED)),
        )
        .order_by()
    }
    alerts = dict(
        Alert.objects.filter(subject__in=users, status=Alert.State.OPEN)
        .annotate(place=_SUBJECTS_PLACE)
        .values("place")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("place", "n")
    )
    views = dict(views.values("district_id").annotate(n=Sum("views")).order_by().values_list("district_id", "n"))
    return [_row(d, people.get(d.pk, {}), alerts.get(d.pk, 0), views.get(d.pk, 0)) for d in districts]


def _row(district: District, people: dict, alerts: int, views: int) -> DistrictRow:
    pk = district.pk
    return DistrictRow(
        name=place_name(district),
        workers=Cell(people.get("workers", 0), _users_url(pk, role__exact=Role.WORKER, status__exact=Status.ACTIVE)),
        waiting=Cell(people.get("waiting", 0), _users_url(pk, status__exact=Status.PENDING_APPROVAL)),
        locked=Cell(people.get("locked", 0), _users_url(pk, lock="now")),
        suspended=Cell(people.get("suspended", 0), _users_url(pk, status__exact=Status.SUSPENDED)),
        alerts=Cell(
            alerts,
            console_url("admin:accounts_alert_changelist", district=pk, status__exact=Alert.State.OPEN),
        ),
        views=Cell(views),
    )
