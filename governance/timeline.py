"""An alert's window in figures and as a picture: what the alert page says before it lists the events.

The window is the events the alert's rule counts (`Rule.counts`) of its account between the evidence's
`window_start` and `window_end`; for the daily budget, the day's refused look-ups; for an alert without a
window, the events it names. `window_read` reads it in two statements whatever the number of events: the
grouped figures (events, records read, distinct records, clock hours, IP addresses, devices), then the count
per bar of the timeline. `Timeline` lays the bars out for the SVG the template draws
(templates/admin/accounts/_alert_timeline.html), as governance/dashboard.py does for its chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Alert
from governance.rules.base import ACCOUNT_EVENTS, EVENTS, EVERY_EVENT, epoch, rows
from governance.rules.registry import BY_NAME
from records.models import AccessEvent, Beneficiary

# Widths of a bar, in seconds: the narrowest that draws the window in at most BARS bars.
STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
BARS = 60
EDGE = timedelta(milliseconds=1)
SHORTEST = timedelta(minutes=1)  # a shorter window (one canary access) is drawn over this much time
# The SVG's coordinates (viewBox 0 0 WIDTH HEIGHT): bars stand on BASE and the tallest reaches TOP.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BASE = 480, 128, 14, 466, 22, 92


@dataclass(frozen=True)
class Scope:
    """Which events an alert's figures and timeline count: those of `log` ("access" or "account") meeting
    `condition` (SQL from a rule, never from input), from `start` to `end` when known (`end` itself
    excluded when `half_open`), else among `ids`."""

    log: str
    condition: str
    start: datetime | None = None
    end: datetime | None = None
    ids: tuple[int, ...] = ()
    half_open: bool = False


@dataclass
class Figures:
    """The grouped figures of a window (`records`, `distinct_records`, `devices`: None for the account log)."""

    events: int
    records: int | None
    distinct_records: int | None
    one_record: str | None  # the reference id, when every record read was the same one
    hours: int
    ips: int
    devices: int | None
    first: datetime | None
    last: datetime | None


@dataclass
class Timeline:
    """The window drawn: bars of `step` seconds from `start`, the window's bounds and three labelled times."""

    start: datetime
    end: datetime
    step: int
    counts: dict[int, int]
    bounds: tuple[datetime, datetime]
    title: str = ""
    description: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    base: int = BASE
    left: int = LEFT
    right: int = RIGHT
    ticks: list[dict] = field(default_factory=list)
    bars: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)

    def __post_init__(self):
        seconds = (self.end - self.start).total_seconds()
        scale = (RIGHT - LEFT) / seconds
        peak = max(self.counts.values(), default=0) or 1
        slot = self.step * scale
        for i, n in sorted(self.counts.items()):
            height = round(max((BASE - TOP) * n / peak, 1.5), 1)
            self.bars.append(
                {"x": round(LEFT + i * slot, 1), "y": round(BASE - height, 1), "w": round(max(slot - 1, 1.5), 1),
                 "h": height, "n": n}
            )  # fmt: skip
        for at in self.bounds:
            self.edges.append({"x": round(LEFT + (at - self.start).total_seconds() * scale, 1)})
        self.ticks = [
            {"x": LEFT, "anchor": "start", "label": _clock(self.start, self.start)},
            {"x": (LEFT + RIGHT) / 2, "anchor": "middle", "label": _clock(self.start + (self.end - self.start) / 2,
                                                                          self.start)},
            {"x": RIGHT, "anchor": "end", "label": _clock(self.end, self.start)},
        ]  # fmt: skip

    @property
    def peak(self) -> int:
        return max(self.counts.values(), default=0)

    @property
    def day(self) -> str:
        first, last = timezone.localtime(self.start).date(), timezone.localtime(self.end - timedelta(seconds=1)).date()
        days = [first] if first == last else [first, last]
        return " – ".join(date_format(d, "DATE_FORMAT") for d in days)

    @property
    def scale_text(self) -> str:
        width = _duration(self.step)
        return ngettext(
            "Each bar counts the events of %(width)s; the tallest holds %(n)s event.",
            "Each bar counts the events of %(width)s; the tallest holds %(n)s events.",
            self.peak,
        ) % {"width": width, "n": self.peak}


def _clock(at: datetime, start: datetime) -> str:
    """A tick's time: the time of day, with its date when it is not the drawing's first day."""
    local = timezone.localtime(at)
    same_day = local.date() == timezone.localtime(start).date()
    return date_format(local, "TIME_FORMAT" if same_day else "DATETIME_FORMAT")


def _duration(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(n)s second", "%(n)s seconds", seconds) % {"n": seconds}
    if seconds < 3600:
        return ngettext("%(n)s minute", "%(n)s minutes", seconds // 60) % {"n": seconds // 60}
    return ngettext("%(n)s hour", "%(n)s hours", seconds // 3600) % {"n": seconds // 3600}


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """The local day `day` (ISO) as [start, end)."""
    start = timezone.make_aware(datetime.combine(date.fromisoformat(day), time.min))
    return start, start + timedelta(days=1)


def alert_scope(alert: Alert, *, log: str, day: str | None, ids: list[int]) -> Scope | None:
    """The events behind `alert` (its explanation's `log`, `day` and `ids`); None when nothing names them."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    rule = BY_NAME.get(alert.rule)
    condition = rule.counts if rule is not None else EVERY_EVENT
    if day is not None:
        start, end = day_bounds(day)
        return Scope(log, f"outcome = '{AccessEvent.Outcome.OVER_BUDGET}'", start, end, half_open=True)
    try:
        start = datetime.fromisoformat(evidence["window_start"])
        end = datetime.fromisoformat(evidence["window_end"])
    except (KeyError, TypeError, ValueError):
        return Scope(log, EVERY_EVENT, ids=tuple(ids)) if ids else None
    if timezone.is_naive(start) or timezone.is_naive(end) or end < start:
        return Scope(log, EVERY_EVENT, ids=tuple(ids)) if ids else None
    return Scope(log, condition, start, end)


def _where(scope: Scope, subject_id: int) -> tuple[str, list]:
    account = "actor_id" if scope.log == "access" else "subject_id"
    parts, params = [f"{account} = %s", f"({scope.condition})"], [subject_id]
    if scope.half_open:
        parts += ["created_at >= %s", "created_at < %s"]
        params += [scope.start, scope.end]
    elif scope.start is not None:  # the evidence keeps milliseconds; the job counted the events within them
        parts += ["created_at >= %s", "created_at <= %s"]
        params += [scope.start - EDGE, scope.end + EDGE]
    else:
        parts.append("id = ANY(%s)")
        params.append(list(scope.ids))
    return " AND ".join(parts), params


def figures_read(scope: Scope, subject_id: int) -> Figures:
    """Count the window's events, records, distinct records, clock hours, IP addresses and devices: one statement."""
    access = scope.log == "access"
    table = EVENTS if access else ACCOUNT_EVENTS
    none = "CAST(NULL AS BIGINT)"
    record, device = ("beneficiary_id", "device_id") if access else (none, none)
    where, params = _where(scope, subject_id)
    sql = f"""
        WITH w AS (SELECT created_at, {record} AS record, ip_address, {device} AS device FROM {table} WHERE {where}),
        s AS (
            SELECT COUNT(*) AS events, COUNT(record) AS records, COUNT(DISTINCT record) AS distinct_records,
                   MIN(record) AS one, COUNT(DISTINCT date_trunc('hour', created_at AT TIME ZONE %s)) AS hours,
                   COUNT(DISTINCT ip_address) AS ips, COUNT(DISTINCT device) AS devices,
                   MIN(created_at) AS first, MAX(created_at) AS last
            FROM w
        )
        SELECT s.events, s.records, s.distinct_records, b.reference_id, s.hours, s.ips, s.devices, s.first, s.last
        FROM s LEFT JOIN {Beneficiary._meta.db_table} b ON b.id = s.one AND s.distinct_records = 1
    """
    events, records, distinct, one, hours, ips, devices, first, last = rows(sql, [*params, settings.TIME_ZONE])[0]
    return Figures(
        events=events,
        records=records if access else None,
        distinct_records=distinct if access else None,
        one_record=one if access and records > 1 else None,
        hours=hours,
        ips=ips,
        devices=devices if access else None,
        first=first,
        last=last,
    )


def timeline_read(scope: Scope, subject_id: int, figures: Figures) -> Timeline | None:
    """Count the window's events per bar (one statement) and lay the timeline out; None without a time to draw."""
    bounds = (scope.start, scope.end) if scope.start is not None else (figures.first, figures.last)
    if bounds[0] is None or not figures.events:
        return None
    start, end = bounds
    if end - start < SHORTEST:
        middle = start + (end - start) / 2
        start, end = middle - SHORTEST / 2, middle + SHORTEST / 2
    seconds = (end - start).total_seconds()
    step = next((s for s in STEPS if seconds / s <= BARS), STEPS[-1])
    end = start + timedelta(seconds=step * max(math.ceil(seconds / step), 1))  # the last bar ends on the axis
    where, params = _where(scope, subject_id)
    sql = f"""
        SELECT LEAST(GREATEST(CAST(FLOOR(({epoch("created_at")} - %s) / %s) AS INTEGER), 0), %s), COUNT(*)
        FROM {EVENTS if scope.log == "access" else ACCOUNT_EVENTS} WHERE {where} GROUP BY 1
    """
    last_bar = max(int(seconds // step) - (1 if seconds % step == 0 else 0), 0)
    counts = dict(rows(sql, [start.timestamp(), step, last_bar, *params]))
    return Timeline(start=start, end=end, step=step, counts=counts, bounds=bounds)


def window_sentences(figures: Figures) -> list[str]:
    """Say in words what the figures alone do not: that every record read was one, and the spread in time."""
    said = []
    if figures.one_record:
        said.append(
            _("All %(n)s records read in this window were of one record, %(record)s.")
            % {"n": figures.records, "record": figures.one_record}
        )
    if figures.first is not None:
        said.append(
            ngettext(
                "%(n)s event from %(first)s to %(last)s.", "%(n)s events from %(first)s to %(last)s.", figures.events
            )
            % {"n": figures.events, "first": written_instant(figures.first), "last": written_instant(figures.last)}
        )
    return said


def written_instant(value: datetime) -> str:
    """`value` in local time to the second (SHORT_DATETIME_FORMAT), as the access log writes it."""
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
