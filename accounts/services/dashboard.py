"""The console's dashboard: what needs the viewer's attention in their jurisdiction, each number with the
list behind it. A fixed number of queries whatever the number of accounts or events (one per figure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.models import Alert, LoginHold, RegisteredDevice, Status, SuspensionCause, User
from accounts.scoping import governable_users
from accounts.services.reviews import reviews_due_soon

CHART_DAYS = 30
TOP_WORKERS = 5


@dataclass
class Figure:
    label: str
    count: int
    url: str


@dataclass
class Dashboard:
    pending_onboardings: Figure
    pending_devices: Figure
    held_accounts: Figure
    reviews_due: Figure
    suspended: list[Figure] = field(default_factory=list)  # by cause
    alerts: list[Figure] = field(default_factory=list)  # open, by severity, most severe first
    views_by_day: list[tuple[date, int]] = field(default_factory=list)  # the last CHART_DAYS days, oldest first
    top_workers: list[Figure] = field(default_factory=list)  # most record views in the last 7 days

    @property
    def views_max(self) -> int:
        return max((n for _d, n in self.views_by_day), default=0)

    @property
    def bars(self) -> list[dict]:
        """The chart's bars (an SVG 300 wide, 80 high; the tallest bar 64), oldest day on the left."""
        top = self.views_max or 1
        bars = []
        for i, (day, n) in enumerate(self.views_by_day):
            height = round(64 * n / top, 1)
            bars.append({"x": i * 10 + 1, "y": round(72 - height, 1), "height": height, "day": day, "count": n})
        return bars


def _url(name: str, **filters) -> str:
    return f"{reverse(name)}?{urlencode(filters)}" if filters else reverse(name)


def dashboard_for(viewer: User, *, now=None) -> Dashboard:
    """The figures of `viewer`'s jurisdiction (accounts.scoping), as of `now`."""
    from records.models import AccessEvent

    now = now or timezone.now()
    users = governable_users(viewer)
    users_page = "admin:accounts_user_changelist"
    labels = dict(SuspensionCause.choices)
    suspended = [
        Figure(
            labels.get(row["suspension_cause"], row["suspension_cause"]),
            row["n"],
            _url(users_page, status__exact=Status.SUSPENDED, suspension_cause__exact=row["suspension_cause"]),
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
            _url("admin:accounts_alert_changelist", status__exact=Alert.State.OPEN, severity__exact=row["severity"]),
        )
        for row in Alert.objects.filter(subject__in=users, status=Alert.State.OPEN)
        .values("severity")
        .annotate(n=Count("pk"))
        .order_by("-severity")
    ]
    local = ZoneInfo(settings.TIME_ZONE)  # days are India's days, whatever the request's time zone
    today = timezone.localtime(now, local).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    views = AccessEvent.objects.filter(
        actor__in=users, action=AccessEvent.Action.VIEW, outcome=AccessEvent.Outcome.ALLOWED
    )
    per_day = dict(
        views.filter(created_at__gte=now - timedelta(days=CHART_DAYS))
        .annotate(day=TruncDate("created_at", tzinfo=local))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    top = (
        views.filter(created_at__gte=now - timedelta(days=7))
        .values("actor_id", "actor__username")
        .annotate(n=Count("pk"))
        .order_by("-n", "actor__username")[:TOP_WORKERS]
    )
    return Dashboard(
        pending_onboardings=Figure(
            "",
            users.filter(status=Status.PENDING_APPROVAL).count(),
            _url(users_page, status__exact=Status.PENDING_APPROVAL),
        ),
        pending_devices=Figure(
            "",
            RegisteredDevice.objects.filter(user__in=users, status=RegisteredDevice.Status.PENDING).count(),
            _url("admin:accounts_registereddevice_changelist", status__exact=RegisteredDevice.Status.PENDING),
        ),
        held_accounts=Figure(
            "",
            LoginHold.objects.filter(user__in=users, cleared_at__isnull=True).values("user").distinct().count(),
            _url("admin:accounts_loginhold_changelist", cleared_at__isnull="True"),
        ),
        reviews_due=Figure(
            "",
            reviews_due_soon(users, now=now).count(),
            _url(users_page, reverification="soon"),
        ),
        suspended=suspended,
        alerts=alerts,
        views_by_day=[
            (first + timedelta(days=i), per_day.get(first + timedelta(days=i), 0)) for i in range(CHART_DAYS)
        ],
        top_workers=[
            Figure(
                row["actor__username"],
                row["n"],
                _url("admin:records_accessevent_changelist", actor__id__exact=row["actor_id"]),
            )
            for row in top
        ],
    )
