"""The anomaly rules of SECURITY.md §Record access, as SQL over the events of one run: two statements, one
over the access events (`access_rules`: every rule but failed logins, the events read once) and one over
the account events (`failed_logins`), plus the canary accesses (`canary_events`).

Each rule takes a `Scan` (the ids of the new events: `wm` < id ≤ `hi`) and yields `Hit`s: a window of
one account's activity that crossed the rule's threshold. Only windows that contain a new event are
returned, but a window is counted over every event in it with id ≤ `hi`, old ones too: 40 views
scored last run and 21 this run, within 10 minutes, make a burst. Windows of one account that
overlap are merged (and deduplicated against earlier alerts) by governance/anomalies.py.

Set-based: a fixed number of statements whatever the number of accounts or events (GROUP BY, window
functions and MATERIALIZED common table expressions). Times are compared as seconds since the epoch
(`_epoch`); local days and nights (TIME_ZONE, Asia/Kolkata) are UTC plus the zone's offset at the run,
which is exact for a zone without daylight saving time, like Asia/Kolkata. Thresholds are the
PRAHARI_ANOMALY_* settings, written into the SQL as numbers (never from input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection

from accounts.models import AccountEvent, AccountEventType
from governance.tallies import view_tallies_ctes
from records.models import AccessEvent

DAY = 86400.0
WORK_MEM_MB = 64  # PostgreSQL work_mem for the access-rules statement (its transaction: the job's)
EVENTS = AccessEvent._meta.db_table
ACCOUNT_EVENTS = AccountEvent._meta.db_table
FAILED_LOGIN_TYPES = (AccountEventType.LOGIN_FAILED, AccountEventType.OTP_FAILED)
VIEW = f"action = '{AccessEvent.Action.VIEW}'"
OUT_OF_SCOPE = f"outcome = '{AccessEvent.Outcome.OUT_OF_SCOPE}'"
ALLOWED = f"outcome = '{AccessEvent.Outcome.ALLOWED}'"


@dataclass(frozen=True)
class Scan:
    """What one run scores: access events `wm` < id ≤ `hi` and account events `account_wm` < id ≤ `account_hi`.

    `since` / `account_since`: the earliest time among those new events (the run's time when there are none).
    `offset`: seconds from UTC to local time.
    """

    wm: int
    hi: int
    since: datetime
    account_wm: int
    account_hi: int
    account_since: datetime
    offset: int
    count: int = 0  # how many new access events
    account_count: int = 0


@dataclass
class Hit:
    """One window of one account's activity over a rule's threshold (times in seconds since the epoch)."""

    rule: str
    actor_id: int
    start: float
    end: float
    count: int
    threshold: float
    numbers: dict = field(default_factory=dict)  # rule-specific figures for the evidence


# --- SQL helpers --------------------------------------------------------------------------------------


def _epoch(column: str) -> str:
    """Seconds since 1970-01-01 UTC, as a float: date_part divides the microseconds as a float, which gives the
    same double as EXTRACT's exact numeric cast to one, at half the cost."""
    return f"date_part('epoch', {column})"


def _floor(expression: str) -> str:
    """The integer below a number (a CAST alone would round)."""
    return f"CAST(FLOOR({expression}) AS BIGINT)"


def _seconds(number: float) -> str:
    """A number of seconds as a literal a RANGE frame over a float accepts."""
    return f"CAST({float(number)!r} AS DOUBLE PRECISION)"


def _at(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- Rules over access events: one statement ----------------------------------------------------------

# Every row the statement returns: (rule, account, a, b, count, x, y); what a, b, x and y are depends on the
# rule (see `_hit`).
ROW = "CAST({a} AS DOUBLE PRECISION), CAST({b} AS DOUBLE PRECISION), CAST({n} AS BIGINT), " + (
    "CAST({x} AS DOUBLE PRECISION), CAST({y} AS DOUBLE PRECISION)"
)


def _row(rule: str, actor: str, *, a="NULL", b="NULL", n="NULL", x="NULL", y="NULL") -> str:
    return f"'{rule}', {actor}, " + ROW.format(a=a, b=b, n=n, x=x, y=y)


def access_rules(scan: Scan) -> list[Hit]:
    """Every rule over access events (all but failed logins and canaries), in one statement.

    The accounts with new events (`touched`) are found once, and their events since the longest look-back
    (the baseline's days) read once into `ctx`. Each rule then reads `ctx`: the day rules group it once
    (`_day_rules`), the burst rule counts window by window only the accounts its views per hour cannot
    rule out (`_burst`), the address rule counts only for accounts with enough addresses (`_many_ips`),
    and the cadence rule reads the figures each new event got at append (`_cadence`). Only windows holding
    a new event are returned, counted over every event in them. The hits are the same as those of one
    statement per rule (compared on the P3 bench data: 14,970 hits over 10,000,000 events, identical), and
    with the cadence read from the appends' figures the same as with every chain walked in SQL (15,021 hits
    on regenerated P3 data, the cadence windows and figures included).

    The statement also adds the new allowed views to the console's tallies from its day grouping
    (governance/tallies.py `view_tallies_ctes`), so the events are read once for both.
    """
    from datetime import timedelta

    parts = [_burst(scan), _day_rules(scan), _cadence(scan), _many_ips(scan), (view_tallies_ctes("days"), "")]
    sql = f"""
        WITH touched AS (
            SELECT DISTINCT actor_id FROM {EVENTS} WHERE id > %(wm)s AND id <= %(hi)s
        ), ctx AS MATERIALIZED (
            SELECT e.id, e.actor_id, e.created_at, {_epoch("e.created_at")} AS t, e.ip_address,
                   CASE WHEN e.{VIEW} THEN 1 ELSE 0 END AS viewed,
                   CASE WHEN e.{OUT_OF_SCOPE} THEN 1 ELSE 0 END AS refused,
                   CASE WHEN e.id > %(wm)s AND e.{VIEW} AND e.{ALLOWED} THEN 1 ELSE 0 END AS tally,
                   e.pace_mean, e.pace_sd
            FROM {EVENTS} e JOIN touched n ON n.actor_id = e.actor_id
            WHERE e.id <= %(hi)s AND e.created_at >= %(since_days)s
        ), {", ".join(cte for ctes, _select in parts for cte in ctes)}
        {" UNION ALL ".join(select for _ctes, select in parts if select)}
        ORDER BY 1, 2, 3
    """
    days = settings.PRAHARI_ANOMALY_BASELINE_DAYS
    params = {
        "wm": scan.wm,
        "hi": scan.hi,
        "since_days": _at(scan.since - timedelta(days=days + 1)),
        "since_hour": _at(scan.since - timedelta(hours=1)),
    }
    # JIT: compiling this statement's ~200 expressions costs seconds, more than any run saves by it.
    # work_mem (for this transaction, the job's): its hash tables (per account and hour, day, address)
    # stay in memory up to about a million groups instead of spilling to disk in batches.
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL jit = off; SET LOCAL work_mem = '{int(WORK_MEM_MB)}MB'")
    return [_hit(scan, *row) for row in _rows(sql, params)]


def _day(t: str, scan: Scan, shift: float = 0.0) -> str:
    """The local day number (days since 1970-01-01, local) of the epoch `t`, moved `shift` seconds later."""
    return _floor(f"({t} + {scan.offset + shift!r}) / {DAY!r}")


def _night() -> tuple[float, float]:
    """(shift, length) of the night: a night is keyed by the day it ends on, which, moved (24 − start) hours
    later, begins at the night's start."""
    start, end = settings.PRAHARI_ANOMALY_NIGHT_START_HOUR, settings.PRAHARI_ANOMALY_NIGHT_END_HOUR
    return (24 - start) * 3600.0, ((end - start) % 24) * 3600.0


def _burst(scan: Scan) -> tuple[list[str], str]:
    """volume_burst: more than PRAHARI_ANOMALY_BURST_VIEWS record views within PRAHARI_ANOMALY_BURST_MINUTES.

    A window of one span lies within two consecutive buckets of six spans (an hour), so it holds at most
    twice the account's busiest bucket: an account whose every bucket holds at most half the limit has no
    burst. Only the other accounts' views are read again (by the account and time index) and counted
    window by window. (Summing the buckets by consecutive pairs rules out a few more accounts, but
    grouping the pairs costs more than the windows of the accounts it would rule out: 3 s on P3's data.)
    """
    span, limit = settings.PRAHARI_ANOMALY_BURST_MINUTES * 60.0, int(settings.PRAHARI_ANOMALY_BURST_VIEWS)
    ctes = [
        f"""buckets AS (
            SELECT actor_id, {_floor(f"t / {6 * span!r}")} AS b, SUM(viewed) AS n FROM ctx
            WHERE created_at >= %(since_hour)s GROUP BY 1, 2
        )""",
        f"""bursting AS (
            SELECT actor_id FROM buckets GROUP BY actor_id HAVING 2 * MAX(n) > {limit}
        )""",
        f"""bursts AS (
            SELECT e.id, e.actor_id, {_epoch("e.created_at")} AS t, COUNT(*) OVER (
                PARTITION BY e.actor_id ORDER BY {_epoch("e.created_at")}
                RANGE BETWEEN {_seconds(span)} PRECEDING AND CURRENT ROW
            ) AS n
            FROM bursting b JOIN {EVENTS} e ON e.actor_id = b.actor_id
            WHERE e.created_at >= %(since_hour)s AND e.id <= %(hi)s AND e.{VIEW}
        )""",
    ]
    select = f"""SELECT {_row("volume_burst", "actor_id", a=f"t - {span!r}", b="t", n="n")}
        FROM bursts WHERE id > %(wm)s AND n > {limit}"""
    return ctes, select


def _day_rules(scan: Scan) -> tuple[list[str], str]:
    """The rules over a local day (or night) of one account, from one grouping of `ctx`:

    - baseline_spike: a local day with more views than FACTOR × the account's own PERCENTILE of daily
      views over the BASELINE_DAYS before it (days with at least one view; only with BASELINE_MIN_DAYS
      such days). The percentile is the nearest-rank one (the value at rank ⌈p·n⌉ of the sorted days).
      Its baseline is at least one view, so only days above FACTOR views are compared;
    - out_of_scope: PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY or more out-of-scope requests in one local day;
    - night_views: more than PRAHARI_ANOMALY_NIGHT_VIEWS views in one night (NIGHT_START_HOUR to
      NIGHT_END_HOUR, local).

    Each counts the events of a day (night) holding a new such event. `ctx` is grouped once by (account,
    day, night, at night or not), a few groups per account and day, from which the days and the nights are
    summed. The same days carry the new allowed views the console's tallies add (`tally`).
    """
    days, pct = settings.PRAHARI_ANOMALY_BASELINE_DAYS, settings.PRAHARI_ANOMALY_BASELINE_PERCENTILE
    factor, min_days = settings.PRAHARI_ANOMALY_BASELINE_FACTOR, settings.PRAHARI_ANOMALY_BASELINE_MIN_DAYS
    per_day, night_views = settings.PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY, settings.PRAHARI_ANOMALY_NIGHT_VIEWS
    shift, inside = _night()
    night = _day("t", scan, shift)
    ctes = [
        f"""grouped AS (
            SELECT actor_id, {_day("t", scan)} AS d, {night} AS nd,
                   CASE WHEN t + {scan.offset + shift!r} - {night} * {DAY!r} < {inside!r} THEN 1 ELSE 0 END AS at_night,
                   SUM(viewed) AS views, SUM(refused) AS oos, SUM(tally) AS tally,
                   MAX(CASE WHEN id > %(wm)s THEN viewed ELSE 0 END) AS new_view,
                   MAX(CASE WHEN id > %(wm)s THEN refused ELSE 0 END) AS new_oos
            FROM ctx GROUP BY 1, 2, 3, 4
        )""",
        """days AS (
            SELECT actor_id, d, CAST(SUM(views) AS BIGINT) AS views, CAST(SUM(oos) AS BIGINT) AS oos,
                   CAST(SUM(tally) AS BIGINT) AS tally, MAX(new_view) AS new_view, MAX(new_oos) AS new_oos
            FROM grouped GROUP BY actor_id, d
        )""",
        """nights AS (
            SELECT actor_id, nd, CAST(SUM(views) AS BIGINT) AS views, MAX(new_view) AS new_view
            FROM grouped WHERE at_night = 1 GROUP BY actor_id, nd
        )""",
        f"""history AS (
            SELECT t.actor_id, t.d, t.views AS today, h.views AS n,
                   ROW_NUMBER() OVER (PARTITION BY t.actor_id, t.d ORDER BY h.views) AS r,
                   COUNT(*) OVER (PARTITION BY t.actor_id, t.d) AS k
            FROM days t JOIN days h ON h.actor_id = t.actor_id AND h.d >= t.d - {int(days)} AND h.d < t.d
            WHERE t.new_view = 1 AND t.views > {int(factor)} AND h.views > 0
        )""",
    ]
    select = f"""SELECT {_row("baseline_spike", "actor_id", a="d", n="today", x="n", y="k")} FROM history
        WHERE r * 100 >= {int(pct)} * k AND (r - 1) * 100 < {int(pct)} * k
          AND k >= {int(min_days)} AND today > {int(factor)} * n
        UNION ALL
        SELECT {_row("out_of_scope", "actor_id", a="d", n="oos")} FROM days
        WHERE new_oos = 1 AND oos >= {int(per_day)}
        UNION ALL
        SELECT {_row("night_views", "actor_id", a="nd", n="views")} FROM nights
        WHERE new_view = 1 AND views > {int(night_views)}"""
    return ctes, select


def _cadence(scan: Scan) -> tuple[list[str], str]:
    """cadence: PRAHARI_ANOMALY_CADENCE_REQUESTS consecutive requests (any action, any outcome) whose gaps
    have a coefficient of variation (population standard deviation / mean) below CADENCE_CV_PERCENT.

    "Consecutive" follows the account's chain (`actor_seq`), so the window is exact whatever the pace. The
    append keeps each event's figures (`pace_mean`, `pace_sd`: records/audit.py `pace`), so the rule reads
    only the new events: no walk of every chain in order. The window starts CADENCE_REQUESTS − 1 mean gaps
    before the event (the gaps add up to its span). All-zero gaps count as machine-like too.
    """
    requests, cv = settings.PRAHARI_ANOMALY_CADENCE_REQUESTS, settings.PRAHARI_ANOMALY_CADENCE_CV_PERCENT / 100
    gaps = max(int(requests), 2) - 1
    select = f"""SELECT {_row("cadence", "actor_id", a=f"t - {gaps} * pace_mean", b="t", x="pace_mean", y="pace_sd")}
        FROM ctx WHERE id > %(wm)s AND pace_sd IS NOT NULL AND (pace_sd = 0 OR pace_sd < {cv!r} * ABS(pace_mean))"""
    return [], select


def _many_ips(scan: Scan) -> tuple[list[str], str]:
    """many_ips: PRAHARI_ANOMALY_IPS_PER_HOUR or more distinct IP addresses within 60 minutes ending at a
    new event.

    SQL has no COUNT(DISTINCT) over a sliding frame: a correlated count per new event, each an index
    range scan of that account's last hour, only for accounts with that many addresses in the last hour
    of `ctx` (most accounts use one or two, so most are ruled out by grouping (account, address) pairs).
    MATERIALIZED: the count is made only for the rows of those accounts, never filtered before the join.
    """
    limit, span = int(settings.PRAHARI_ANOMALY_IPS_PER_HOUR), 3600.0
    in_hour = f"o.created_at >= e.created_at - INTERVAL '{int(span)} seconds'"
    ctes = [
        f"""addressed AS (
            SELECT actor_id FROM (
                SELECT actor_id, ip_address FROM ctx
                WHERE ip_address IS NOT NULL AND created_at >= %(since_hour)s GROUP BY actor_id, ip_address
            ) pairs GROUP BY actor_id HAVING COUNT(*) >= {limit}
        )""",
        f"""addresses AS MATERIALIZED (
            SELECT e.actor_id, e.t, (
                SELECT COUNT(DISTINCT o.ip_address) FROM {EVENTS} o
                WHERE o.actor_id = e.actor_id AND o.id <= %(hi)s AND o.ip_address IS NOT NULL
                  AND o.created_at >= %(since_hour)s AND o.created_at <= e.created_at AND {in_hour}
            ) AS n
            FROM ctx e WHERE e.id > %(wm)s AND e.ip_address IS NOT NULL
              AND e.actor_id IN (SELECT actor_id FROM addressed)
        )""",
    ]
    select = f"""SELECT {_row("many_ips", "actor_id", a=f"t - {span!r}", b="t", n="n")} FROM addresses
        WHERE n >= {limit}"""
    return ctes, select


def _hit(scan: Scan, rule: str, actor: int, a: float, b: float | None, n: int | None, x, y) -> Hit:
    """The Hit of one row of `access_rules` (a, b: the window's times, or a's day; x, y: the rule's figures)."""
    if rule == "volume_burst":
        return Hit(rule, actor, a, b, n, settings.PRAHARI_ANOMALY_BURST_VIEWS)
    if rule == "many_ips":
        return Hit(rule, actor, a, b, n, settings.PRAHARI_ANOMALY_IPS_PER_HOUR)
    if rule == "cadence":
        mean, deviation = x, y
        spread = deviation / mean if mean > 0 else 0.0
        numbers = {"mean_gap_seconds": round(mean, 3), "gap_variation_percent": round(100 * spread, 1)}
        cv = settings.PRAHARI_ANOMALY_CADENCE_CV_PERCENT / 100
        return Hit(rule, actor, a, b, settings.PRAHARI_ANOMALY_CADENCE_REQUESTS, cv * 100, numbers)
    if rule == "night_views":
        shift, inside = _night()
        start = int(a) * DAY - scan.offset - shift
        return Hit(rule, actor, start, start + inside - 0.001, n, settings.PRAHARI_ANOMALY_NIGHT_VIEWS)
    start = int(a) * DAY - scan.offset
    if rule == "out_of_scope":
        return Hit(rule, actor, start, start + DAY - 0.001, n, settings.PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY)
    factor, baseline = settings.PRAHARI_ANOMALY_BASELINE_FACTOR, int(x)
    numbers = {
        "percentile": settings.PRAHARI_ANOMALY_BASELINE_PERCENTILE,
        "baseline": baseline,
        "factor": factor,
        "history_days": int(y),
    }
    return Hit(rule, actor, start, start + DAY - 0.001, n, factor * baseline, numbers)


def canary_events(scan: Scan) -> list[tuple[int, int, float, str, int | None]]:
    """New canary accesses: (event id, actor, time, action, beneficiary). The read path alerts on them at once."""
    sql = f"""
        SELECT id, actor_id, {_epoch("created_at")}, action, beneficiary_id FROM {EVENTS}
        WHERE id > %(wm)s AND id <= %(hi)s AND outcome = '{AccessEvent.Outcome.CANARY}' ORDER BY id
    """
    return _rows(sql, {"wm": scan.wm, "hi": scan.hi})


# --- Rules over account events ------------------------------------------------------------------------


def failed_logins(scan: Scan) -> list[Hit]:
    """PRAHARI_ANOMALY_FAILED_LOGINS or more failed passwords or OTP codes of one account within
    PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES (accounts.AccountEvent, its own watermark)."""
    from datetime import timedelta

    limit, span = settings.PRAHARI_ANOMALY_FAILED_LOGINS, settings.PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES * 60
    types = ", ".join(str(int(t)) for t in FAILED_LOGIN_TYPES)
    sql = f"""
        WITH touched AS (
            SELECT DISTINCT subject_id FROM {ACCOUNT_EVENTS}
            WHERE id > %(wm)s AND id <= %(hi)s AND type IN ({types}) AND subject_id IS NOT NULL
        ), ctx AS (
            SELECT a.id, a.subject_id, {_epoch("a.created_at")} AS t FROM {ACCOUNT_EVENTS} a
            WHERE a.subject_id IN (SELECT subject_id FROM touched) AND a.type IN ({types})
              AND a.created_at >= %(since)s AND a.id <= %(hi)s
        ), win AS (
            SELECT id, subject_id, t, COUNT(*) OVER (
                PARTITION BY subject_id ORDER BY t RANGE BETWEEN {_seconds(span)} PRECEDING AND CURRENT ROW
            ) AS n FROM ctx
        )
        SELECT subject_id, t, n FROM win WHERE id > %(wm)s AND n >= {int(limit)} ORDER BY subject_id, t
    """
    params = {
        "wm": scan.account_wm,
        "hi": scan.account_hi,
        "since": _at(scan.account_since - timedelta(seconds=span)),
    }
    return [Hit("failed_logins", subject, t - span, t, n, limit) for subject, t, n in _rows(sql, params)]


# --- The events behind the hits -----------------------------------------------------------------------

# Which events each rule counts, for the evidence: (table, account column, condition).
EVIDENCE_SOURCES = {
    "volume_burst": (EVENTS, "actor_id", VIEW),
    "baseline_spike": (EVENTS, "actor_id", VIEW),
    "night_views": (EVENTS, "actor_id", VIEW),
    "out_of_scope": (EVENTS, "actor_id", OUT_OF_SCOPE),
    "cadence": (EVENTS, "actor_id", "1 = 1"),
    "many_ips": (EVENTS, "actor_id", "ip_address IS NOT NULL"),
    "failed_logins": (
        ACCOUNT_EVENTS,
        "subject_id",
        f"type IN ({', '.join(str(int(t)) for t in FAILED_LOGIN_TYPES)})",
    ),
}


def events_in(requests: list[tuple[str, list[int], datetime, datetime, int]]) -> list[tuple]:
    """(rule, account, event id, time, IP) of the events each (rule, accounts, start, end, hi) request counts:
    the rule's events of those accounts between start and end with ids ≤ hi, by rule, account and time.
    One statement for all the hits of a run, whatever their number or rules."""
    parts, params = [], []
    for rule, accounts, start, end, hi in requests:
        table, column, where = EVIDENCE_SOURCES[rule]  # the rule names a known source, never input
        marks = ", ".join(["%s"] * len(accounts))
        parts.append(
            f"SELECT '{rule}', {column}, id, {_epoch('created_at')}, ip_address, created_at FROM {table} "
            f"WHERE {column} IN ({marks}) AND created_at >= %s AND created_at <= %s AND id <= %s AND {where}"
        )
        params += [*accounts, _at(start), _at(end), hi]
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 2, 6, 3", params)
        return [row[:5] for row in cursor.fetchall()]
