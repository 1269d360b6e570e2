"""The console's dashboard: what needs the viewer's attention in their jurisdiction, each number with the
list behind it. A fixed number of queries whatever the number of accounts or events (one per figure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Alert, Status, SuspensionCause, User
from accounts.scoping import governable_users, governed_readers
from governance.dashboard_chart import Chart
from governance.dashboard_districts import DistrictRow, district_rows
from governance.dashboard_todo import ToDo, console_url, todo_for
from governance.unexplained import explained_shares

CHART_DAYS = 30
TOP_WORKERS = 5


@dataclass
class Figure:
    label: str
    count: int
    url: str
    explained: int | None = None  # a reader's explained share of the week, in percent (governance/unexplained.py)


@dataclass
class Dashboard:
    todo: list[ToDo]  # what waits for the viewer, in the order to act on it
    suspended: list[Figure] = field(default_factory=list)  # by cause
    alerts: list[Figure] = field(default_factory=list)  # open, by severity, most severe first
    views_by_day: list[tuple[date, int]] = field(default_factory=list)  # the last CHART_DAYS days, oldest first
    top_workers: list[Figure] = field(default_factory=list)  # most record views this week (from Monday)
    views_counted_at: datetime | None = None  # the anomalies job's last count of record views
    districts: list[DistrictRow] = field(default_factory=list)  # a state administrator's, by name

    @property
    def waiting(self) -> list[ToDo]:
        return [item for item in self.todo if item.count]

    @property
    def chart(self) -> Chart:
        return Chart(self.views_by_day)

    def item(self, kind: str) -> ToDo:
        return next(item for item in self.todo if item.kind == kind)


def dashboard_for(viewer: User, *, now=None) -> Dashboard:
    """The figures of `viewer`'s jurisdiction (accounts.scoping), as of `now`."""
    from governance.models import DistrictViewDay, ReaderViewWeek
    from governance.tallies import local_today, week_start
    from records.models import AnomalyWatermark

    now = now or timezone.now()
    users = governable_users(viewer)
    labels = dict(SuspensionCause.choices)
    suspended = [
        Figure(
            labels.get(row["suspension_cause"], row["suspension_cause"]),
            row["n"],
            console_url(
                "admin:accounts_user_changelist",
                status__exact=Status.SUSPENDED,
                suspension_cause__exact=row["suspension_cause"],
            ),
        )
        for row in users.filter(status=Status.SUSPENDED)
        .values("suspension_cause")
        .annotate(n=Count("pk"))
        .order_by("-n", "suspension_cause")
    ]
    severities = dict(Alert.Severity.choices)
    alerts = [
        Figure(
            str(severities[row["severity"]]),
            row["n"],
            console_url(
                "admin:accounts_alert_changelist", status__exact=Alert.State.OPEN, severity__exact=row["severity"]
            ),
        )
        for row in Alert.objects.filter(subject__in=users, status=Alert.State.OPEN)
        .values("severity")
        .annotate(n=Count("pk"))
        .order_by("-severity")
    ]
    # Record views come from the tallies the anomalies job keeps (governance/tallies.py): a few rows per
    # district, whatever the number of workers or events, as of the job's last run.
    today = local_today(now)  # India's days, whatever the request's time zone
    first = today - timedelta(days=CHART_DAYS - 1)
    districts, roles = governed_readers(viewer)
    in_scope = Q(role__in=roles) if districts is None else Q(role__in=roles, district_id__in=districts)
    per_day = dict(
        DistrictViewDay.objects.filter(in_scope, day__gte=first)
        .values("day")
        .annotate(n=Sum("views"))
        .values_list("day", "n")
    )
    this_week = ReaderViewWeek.objects.filter(in_scope, week=week_start(today))
    top = this_week.order_by("-views", "actor_id").values("actor_id", "actor__username", "views")[:TOP_WORKERS]
    shares = explained_shares([row["actor_id"] for row in top], now=now)
    counted = AnomalyWatermark.objects.filter(stream=AnomalyWatermark.Stream.ACCESS_EVENTS).first()
    return Dashboard(
        todo=todo_for(users, now=now),
        suspended=suspended,
        alerts=alerts,
        views_by_day=[
            (first + timedelta(days=i), per_day.get(first + timedelta(days=i), 0)) for i in range(CHART_DAYS)
        ],
        top_workers=[
            Figure(
                row["actor__username"],
                row["views"],
                console_url("admin:records_accessevent_changelist", actor__id__exact=row["actor_id"]),
                shares[row["actor_id"]].week_percent,
            )
            for row in top
        ],
        views_counted_at=counted.updated_at if counted and counted.last_id else None,
        districts=district_rows(viewer, users, views=this_week, now=now),
    )
