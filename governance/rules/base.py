"""What an anomaly rule is made of, what a run scores and finds, the logs the rules read, and shared SQL.

A rule the job scores has a `select`: one SELECT inside its log's statement (governance/rules/statements.py).
It reads the WITH queries its log's statements start with (`Log.ctes`: for the access log, `ctx`, the events
of the accounts with new events since the longest look-back, read once) and those it names (`Rule.ctes`; one
that several rules name, like the day grouping of days.py, is written once), and yields `actor_id` and then
the numbers named in `Rule.columns`, by those names. `Rule.window` turns one such row into the window it
flagged. A rule returns only windows holding a new event, but counts every event in them, old ones too: 40
views scored last run and 21 this run, within 10 minutes, make a burst.

Each statement has the parameters `wm` and `hi` (its log's new events: `wm` < id ≤ `hi`), `since` (the
earliest time any of its rules looks back to: the earliest new event less the longest `Rule.lookback`) and
`since_hour` (an hour before the earliest new event). Thresholds are the PRAHARI_ANOMALY_* settings, read
when the statement is made and written into it as numbers (never from input).

Times are seconds since the epoch (`epoch`); local days and nights (TIME_ZONE, Asia/Kolkata) are UTC plus the
zone's offset at the run (`Scan.offset`), which is exact for a zone without daylight saving time, like
Asia/Kolkata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils.functional import Promise

from accounts.models import AccountEvent, Alert
from records.models import AccessEvent, AnomalyWatermark

Severity = Alert.Severity
Stream = AnomalyWatermark.Stream
DAY = 86400.0
EVENTS = AccessEvent._meta.db_table
ACCOUNT_EVENTS = AccountEvent._meta.db_table
VIEW = f"action = '{AccessEvent.Action.VIEW}'"
OUT_OF_SCOPE = f"outcome = '{AccessEvent.Outcome.OUT_OF_SCOPE}'"
ALLOWED = f"outcome = '{AccessEvent.Outcome.ALLOWED}'"
EVERY_EVENT = "1 = 1"
# A record opened: an allowed view or reveal of a record (what records/explain.py explains).
LOOKED = (
    f"action IN ('{AccessEvent.Action.VIEW}', '{AccessEvent.Action.REVEAL}')"
    f" AND outcome = '{AccessEvent.Outcome.ALLOWED}' AND beneficiary_id IS NOT NULL"
)

# --- What a run scores, and what a rule finds ---------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The new events of one log: ids `wm` < id ≤ `hi`, `count` of them, the earliest at `since` (the run's
    time when there are none)."""

    wm: int
    hi: int
    since: datetime
    count: int = 0


@dataclass(frozen=True)
class Scan:
    """What one run scores: the new events of each log (by its watermark's stream), and `offset`, the seconds
    from UTC to local time at the run."""

    spans: Mapping[str, Span]
    offset: int

    def of(self, log: Log) -> Span:
        return self.spans[log.stream]


@dataclass(frozen=True)
class Window:
    """What one row of a rule flagged: its times (seconds since the epoch), the count it compared with the
    threshold, and the rule's own figures for the evidence (`numbers`)."""

    start: float
    end: float
    count: int
    threshold: float
    numbers: dict = field(default_factory=dict)


@dataclass(eq=False)
class Hit:
    """One window of one account's activity over a rule's threshold (times in seconds since the epoch)."""

    rule: Rule
    actor_id: int
    start: float
    end: float
    count: int
    threshold: float
    numbers: dict = field(default_factory=dict)


# --- The parts of a rule ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Cte:
    """A named WITH query of a statement: `body` makes its SQL for a scan; `needs` are the WITH queries it
    reads (written before it, once each, whoever needs them)."""

    name: str
    body: Callable[[Scan], str]
    needs: tuple[Cte, ...] = ()
    materialized: bool = False

    def sql(self, scan: Scan) -> str:
        return f"{self.name} AS {'MATERIALIZED ' if self.materialized else ''}({self.body(scan)})"


@dataclass(frozen=True, eq=False)
class Log:
    """A log the rules read: its table, the column naming the account, the stream of its watermark, what the
    alert page calls its events (`page`), and the WITH queries each statement over it starts with."""

    stream: str
    table: str
    account: str
    page: str
    ctes: tuple[Cte, ...] = ()


@dataclass(frozen=True, eq=False)
class Words:
    """What the console says about a rule's alerts, marked for translation.

    `title` names the rule; `meaning` says what it means (filled with `meaning_figures()` when given);
    `lines(evidence, alert)` says the evidence in sentences and raises KeyError, TypeError or ValueError on
    evidence it cannot read; `window_line` says the merged window and all it holds ("From %(start)s to
    %(end)s: %(events)s … in all."), for the rules over sliding windows; `summary` is the one-line record stored with
    the evidence, in English, filled with the hit's numbers; `day_of_refusals`: the evidence names a local
    `day` whose refused look-ups are its events, instead of event ids.
    """

    title: Promise
    meaning: Promise
    lines: Callable[[dict, Alert], list[str]]
    window_line: Promise | None = None
    summary: Promise | None = None
    meaning_figures: Callable[[], dict] | None = None
    day_of_refusals: bool = False

    def meaning_text(self) -> str:
        text = str(self.meaning)
        return text % self.meaning_figures() if self.meaning_figures else text


def no_lookback() -> timedelta:
    return timedelta(0)


@dataclass(frozen=True, eq=False)
class Rule:
    """One anomaly rule: its stored name (`Alert.rule`: never renamed), severity and words, and, for a rule the
    job scores, how it finds windows.

    `select(scan)` is its SELECT (module docstring), yielding `actor_id` and then `columns`; `ctes` the WITH
    queries it reads beyond its log's; `window(scan, row)` the window one row flagged (`row`: the columns by
    name, as floats). `counts` is the SQL condition on its log's rows that the events behind a hit meet (its
    evidence); `lookback()` how long before the earliest new event its windows can start; `lists_ips`: its
    evidence names the IP addresses of those events. A rule without `select` is raised elsewhere (the read
    path's canary and daily budget): only its severity and words live here.
    """

    name: str
    severity: Severity
    words: Words
    log: Log
    select: Callable[[Scan], str] | None = None
    columns: tuple[str, ...] = ()
    ctes: tuple[Cte, ...] = ()
    window: Callable[[Scan, Mapping[str, float]], Window] | None = None
    counts: str = EVERY_EVENT
    lookback: Callable[[], timedelta] = no_lookback
    lists_ips: bool = False

    def hit(self, scan: Scan, actor_id: int, row: Mapping[str, float]) -> Hit:
        found = self.window(scan, row)
        return Hit(self, actor_id, found.start, found.end, found.count, found.threshold, dict(found.numbers))


# --- SQL helpers --------------------------------------------------------------------------------------


def epoch(column: str) -> str:
    """Give the seconds since 1970-01-01 UTC, as a float: date_part divides the microseconds as a float, which gives the
    same double as EXTRACT's exact numeric cast to one, at half the cost."""
    return f"date_part('epoch', {column})"


def floor(expression: str) -> str:
    """Give the integer below a number (a CAST alone would round)."""
    return f"CAST(FLOOR({expression}) AS BIGINT)"


def seconds(number: float) -> str:
    """Write a number of seconds as a literal a RANGE frame over a float accepts."""
    return f"CAST({float(number)!r} AS DOUBLE PRECISION)"


def at(value: datetime):
    """Adapt a time for a statement parameter."""
    return connection.ops.adapt_datetimefield_value(value)


def rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- The logs -----------------------------------------------------------------------------------------

TOUCHED = Cte("touched", lambda scan: f"SELECT DISTINCT actor_id FROM {EVENTS} WHERE id > %(wm)s AND id <= %(hi)s")
CTX = Cte(
    "ctx",
    lambda scan: (
        f"""
            SELECT e.id, e.actor_id, e.created_at, {epoch("e.created_at")} AS t, e.ip_address,
                   CASE WHEN e.{VIEW} THEN 1 ELSE 0 END AS viewed,
                   CASE WHEN e.{OUT_OF_SCOPE} THEN 1 ELSE 0 END AS refused,
                   CASE WHEN e.id > %(wm)s AND e.{VIEW} AND e.{ALLOWED} THEN 1 ELSE 0 END AS tally,
                   CASE WHEN {LOOKED} THEN 1 ELSE 0 END AS looked,
                   e.pace_mean, e.pace_sd
            FROM {EVENTS} e JOIN touched n ON n.actor_id = e.actor_id
            WHERE e.id <= %(hi)s AND e.created_at >= %(since)s
        """
    ),
    needs=(TOUCHED,),
    materialized=True,
)

# The access events (records.AccessEvent): every statement over them starts with the accounts that have new
# events (`touched`) and those accounts' events since `since` (`ctx`), read once for all its rules.
ACCESS = Log(stream=Stream.ACCESS_EVENTS, table=EVENTS, account="actor_id", page="access", ctes=(CTX,))
# The account events (accounts.AccountEvent): its rules read the table themselves.
ACCOUNT = Log(stream=Stream.ACCOUNT_EVENTS, table=ACCOUNT_EVENTS, account="subject_id", page="account")
LOGS = (ACCESS, ACCOUNT)
