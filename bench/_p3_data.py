"""The data of benchmark P3 and of its equality test: 31 days of one facility's access log, set-based SQL.

Every worker (row number k, case `k % 50`) gets, in local time (TIME_ZONE):

- a history of 30 days before the scored day: on each day but Sunday, a login at 07:55 and 7 to 14
  requests from 09:00, 25 minutes apart (5 to 10 record views, the rest searches), from two or three of
  the worker's four addresses; cases 20–24 also view two records each night at 22:30 and 23:00;
- on the scored day, a login at 07:55 and `per_worker` requests from 08:00 at a human pace (gaps of 40 to
  680 seconds, irregular), 35% views, 5% reveals, 60% searches (3% of them not found), the address
  changing every 25 requests among the same four;
- the crafted runs of its case (bench/_p3_cases.py), on top: cases 0–9 trip one rule each (about 2% of
  the accounts each), cases 10–45 sit on either side of a threshold or mix old and new events in one
  window, cases 46–49 ("quiet": nothing else) test the baseline rule's history and percentile.

The scored window starts at 05:00 on the scored day: every event before is history (the watermarks of
both logs are left there, as if an earlier run had scored it), so nights, days, hours and 10-minute
windows hold old and new events. Look-ups for a due dose are explained by an appointment of the record
at the worker's facility (one a week per record, written here with their explanation rows, as the
`explain` job would have); those for a beneficiary's request have no consent, so they stay unexplained.
The explain watermark is put at the log's end: the `explain` job runs on its own every 10 minutes.

Pseudo-random numbers come from `hashint8`, so a size always makes the same data. Times are whole
milliseconds (whole seconds where a case sits exactly on a window's edge). The chain's `actor_seq` and
the cadence figures (`pace_mean`, `pace_sd`) are computed here as records/audit.py `pace` does (exact
integer microseconds, one division at the end), the hash chain is left empty (nothing here reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from bench._p3_cases import ASKED, CASES, DUE, FAILURES, QUIET, RUNS, values_sql
from bench._rows import insert_series, progress, workers_make

HISTORY_DAYS = 30
SPLIT_SECONDS = 5 * 3600  # the scored window starts at 05:00 local on the scored day
CHUNK_WORKERS = 5_000


def _rand(a: str, b: str) -> str:
    """A pseudo-random number in [0, 1) from two integers (SQL)."""
    return f"((hashint8(({a})::bigint * 1000003 + ({b})) & 2147483647)::float8 / 2147483648.0)"


def _own_ip(k: str, day: str, sec: str) -> str:
    """The worker's address `sec` seconds after local midnight: one of four, the next every 105 minutes from 08:00."""
    block = f"floor(greatest(({sec}) - 28800, 0) / 6300)::int"
    return f"('10.' || ({k}) %% 250 || '.' || ({k}) / 250 %% 250 || '.' || (({block} + ({day})) %% 4 + 1))::inet"


def _made() -> str:
    """Every access event of the chunk's workers: (actor_id, day_off, sec, tie, action, outcome, ben, purpose, ip).

    `day_off`: days before the scored day; `sec`: seconds after that day's local midnight (whole ms); `ben`:
    an index into the record pool (−1 the canary, NULL none); `tie` orders events at one instant.
    """
    quiet = ", ".join(map(str, QUIET))
    history = f"""
        SELECT u.id, h, 32400 + i * 1500 + floor({_rand("u.k * 64 + h", "i")} * 1200000) / 1000.0, 100000 + i,
               CASE WHEN i <= n.v THEN 'view' ELSE 'search' END, 'allowed',
               CASE WHEN i <= n.v THEN (u.k * 7919 + h * 104729 + i * 31) %% %(pool)s END, '{DUE}',
               {_own_ip("u.k", "h", "32400 + i * 1500")}
        FROM u CROSS JOIN generate_series(1, {HISTORY_DAYS}) h
        CROSS JOIN LATERAL (
            SELECT CASE WHEN u.k %% 50 = 5 THEN 2 + floor(2 * {_rand("u.k", "1000 + h")})
                        ELSE 5 + floor(6 * {_rand("u.k", "1000 + h")}) END::int AS v,
                   (2 + floor(3 * {_rand("u.k", "2000 + h")}))::int AS s
        ) n
        CROSS JOIN generate_series(1, 14) i
        WHERE u.k %% 50 NOT IN ({quiet}) AND extract(isodow FROM %(day)s::date - h) <> 7 AND i <= n.v + n.s
    """
    nights = f"""
        SELECT u.id, h, 79200 + 1800 * j + floor({_rand("u.k * 64 + h", "50 + j")} * 1000) / 1000.0, 200000 + j,
               'view', 'allowed', (u.k * 7919 + h * 104729 + j * 37) %% %(pool)s, '{DUE}',
               {_own_ip("u.k", "h", "79200 + 1800 * j")}
        FROM u CROSS JOIN generate_series(1, {HISTORY_DAYS}) h CROSS JOIN generate_series(1, 2) j
        WHERE u.k %% 50 BETWEEN 20 AND 24
    """
    scored = f"""
        SELECT id, 0, sec, 300000 + s, action, outcome, ben, purpose, {_own_ip("k", "0", "sec")} FROM (
            SELECT id, k, s, 28800 + SUM(gap) OVER (PARTITION BY id ORDER BY s) AS sec, action, outcome, ben, purpose
            FROM (
                SELECT u.id, u.k, s, (40000 + floor(640000 * {_rand("u.k", "5000 + s")} ^ 2)) / 1000.0 AS gap,
                       CASE WHEN a < 0.35 THEN 'view' WHEN a < 0.40 THEN 'reveal' ELSE 'search' END AS action,
                       CASE WHEN a >= 0.976 THEN 'not_found' ELSE 'allowed' END AS outcome,
                       CASE WHEN a < 0.40 THEN (u.k * 7919 + s * 31 + 17) %% %(pool)s END AS ben,
                       CASE WHEN u.k %% 50 = 6 THEN '{ASKED}' ELSE '{DUE}' END AS purpose
                FROM u CROSS JOIN generate_series(1, %(n)s) s
                CROSS JOIN LATERAL (SELECT {_rand("u.k", "9000 + s")} AS a) r
                WHERE u.k %% 50 NOT IN ({quiet})
            ) day
        ) timed
    """
    jitter = _rand("u.k * 1000 + r.run", "i")
    crafted = f"""
        SELECT id, day_off, sec, tie, action, outcome, ben, purpose,
               CASE WHEN ips = 'extra' THEN ('10.' || k %% 250 || '.' || k / 250 %% 250 || '.' || (ip_from + i))::inet
                    ELSE {_own_ip("k", "day_off", "sec")} END
        FROM (
            SELECT u.id, u.k, i, r.ips, r.ip_from, r.day_off, r.start + CASE r.pattern
                       WHEN 'ms' THEN i * r.step + floor({jitter} * 300) / 1000.0
                       WHEN 'even' THEN i * r.step
                       WHEN 'inner' THEN i * r.step
                           + CASE WHEN i > 0 AND i < r.n - 1 THEN floor({jitter} * 5) - 2 ELSE 0 END
                       WHEN 'alt17' THEN 20 * i - 3 * (i %% 2)
                       WHEN 'alt23' THEN 20 * i + 3 * (i %% 2)
                       WHEN 'same' THEN 0
                       ELSE i * 300 + floor({jitter} * 290) END AS sec,
                   400000 + r.run * 1000 + i AS tie, r.action, r.outcome,
                   CASE WHEN r.outcome = 'canary' THEN -1
                        WHEN r.action <> 'search' AND r.outcome <> 'out_of_scope'
                        THEN (u.k * 7919 + r.run * 613 + i * 31) %% %(pool)s END AS ben,
                   r.purpose
            FROM u JOIN (VALUES {values_sql(RUNS)})
                AS r(run, c, day_off, start, n, step, pattern, action, outcome, purpose, ips, ip_from)
                ON r.c = u.k %% 50
            CROSS JOIN generate_series(0, r.n - 1) i
        ) c
    """
    return " UNION ALL ".join((history, nights, scored, crafted))


def _staged() -> str:
    """The chunk's events with their place in the chain and its pace, as records/audit.py `pace` computes it."""
    return f"""
        INSERT INTO p3_events (actor_id, at, action, outcome, ben, purpose, ip, seq, pace_mean, pace_sd)
        SELECT actor_id, at, action, outcome, ben, purpose, ip, seq,
               CASE WHEN seq >= %(keep)s THEN span / (%(keep)s - 1) / 1e6 END,
               CASE WHEN seq >= %(keep)s THEN sqrt(greatest(
                   ((%(keep)s - 1) * squares - span * span) / ((%(keep)s - 1) ^ 2 * 1e12), 0)) END
        FROM (
            SELECT *, (us - LAG(us, %(keep)s - 1) OVER w)::numeric AS span,
                   SUM(gap * gap) OVER (w ROWS BETWEEN %(keep)s - 2 PRECEDING AND CURRENT ROW) AS squares
            FROM (
                SELECT *, (us - LAG(us) OVER w)::numeric AS gap FROM (
                    SELECT made.*, at_.at, (extract(epoch FROM at_.at) * 1000000)::bigint AS us,
                           row_number() OVER (PARTITION BY actor_id ORDER BY at_.at, tie) AS seq
                    FROM ({_made()}) AS made(actor_id, day_off, sec, tie, action, outcome, ben, purpose, ip)
                    CROSS JOIN LATERAL (
                        SELECT ((%(day)s::date - day_off)::timestamp + make_interval(secs => sec))
                               AT TIME ZONE %(tz)s AS at
                    ) at_
                ) ordered WINDOW w AS (PARTITION BY actor_id ORDER BY seq)
            ) gapped WINDOW w AS (PARTITION BY actor_id ORDER BY seq)
        ) paced
    """


@dataclass
class P3Data:
    """What was made: the watermarks (history up to them) and ends of both logs, and the crafted cases' accounts."""

    day: date  # the scored local day
    before: int  # the access log's last id before these events
    wm: int
    hi: int
    account_wm: int
    account_hi: int
    workers: list[int] = field(default_factory=list)
    cases: dict[str, list[int]] = field(default_factory=dict)
    per_worker: int = 0

    @property
    def scored(self) -> int:
        return self.hi - self.wm


def p3_make(
    workers: int, per_worker: int, *, day: date | None = None, prefix: str = "bench.p3", series: str = "7"
) -> P3Data:
    """Make `workers` workers and their 31 days of access and account events (module docstring).

    `series`: the first digit of the records' reference ids (the canary's too), so that a second set made in
    the same database (another `prefix` and `series`) does not collide with the first.
    """
    if len(series) != 1 or not series.isdigit():
        raise ValueError(f"series must be one digit, not {series!r}")
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from records.models import Appointment, Beneficiary

    day = day or timezone.localdate() - timedelta(days=1)
    ids = workers_make(workers, prefix=prefix)
    facility = _facility_of(ids[0])
    pool = max(200, workers // 5)
    bens = _records(pool, facility, series)
    canary = Beneficiary.objects.create(
        reference_id=series + "9" * 13,
        name="Canary",
        year_of_birth=1990,
        gender="F",
        id_type="aadhaar",
        id_number="999999999999",
        facility_id=facility,
        is_canary=True,
    ).pk
    base = day - timedelta(days=HISTORY_DAYS + 5)  # appointments every 7 days from here: one within 3 days of any day
    insert_series(
        Appointment,
        pool * 7,
        {
            "beneficiary_id": "(%(bens)s::bigint[])[(s - 1) / 7 + 1]",
            "facility_id": "%(facility)s",
            "date": "%(base)s::date + 7 * ((s - 1) %% 7)",
        },
        {"bens": bens, "facility": facility, "base": base},
        label="appointments",
    )
    params = {
        "day": day,
        "tz": settings.TIME_ZONE,
        "pool": pool,
        "n": per_worker,
        "keep": max(int(settings.PRAHARI_ANOMALY_CADENCE_REQUESTS), 2),
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS p3_events")
        cursor.execute(
            "CREATE TEMP TABLE p3_events (actor_id bigint, at timestamptz, action text, outcome text, ben int, "
            "purpose text, ip inet, seq bigint, pace_mean float8, pace_sd float8)"
        )
    for start in range(0, len(ids), CHUNK_WORKERS):
        chunk = ids[start : start + CHUNK_WORKERS]
        ks = list(range(start + 1, start + len(chunk) + 1))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_with_workers(_staged()), {**params, "ids": chunk, "ks": ks})
        progress("access events made", start + len(chunk), len(ids))
    split = _local(day, SPLIT_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM records_accessevent")
        before = cursor.fetchone()[0]
    wm = _events_insert(old=True, split=split, bens=bens, canary=canary)
    hi = _events_insert(old=False, split=split, bens=bens, canary=canary)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE p3_events")
    _explanations(lo=before, hi=hi, facility=facility, base=base)
    account_wm, account_hi = _account_events(ids, day, split)
    _watermarks(wm=wm, account_wm=account_wm, hi=hi)
    with connection.cursor() as cursor:
        for table in ("records_accessevent", "records_accessexplanation", "accounts_accountevent"):
            cursor.execute(f"ANALYZE {table}")
    cases = {name: [pk for k, pk in enumerate(ids, start=1) if k % 50 == c] for name, c in CASES.items()}
    return P3Data(day, before, wm, hi, account_wm, account_hi, ids, cases, per_worker)


_MADE: list[P3Data] = []  # the sets p3_data made in this process's bench database, in order


def p3_data(workers: int, per_worker: int) -> P3Data:
    """The P3 data of this size for a figure (P3, P7sweep): the set made last, when it is of this size and both
    logs still end where it ended them (nothing was logged since, so a run scores exactly its events), with its
    watermarks put back; else a new set (its own accounts and records) on top of whatever the database holds."""
    from django.db import connection

    last = _MADE[-1] if _MADE else None
    if last is not None and (len(last.workers), last.per_worker) == (workers, per_worker):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM records_accessevent), "
                "(SELECT COALESCE(MAX(id), 0) FROM accounts_accountevent)"
            )
            if cursor.fetchone() == (last.hi, last.account_hi):
                _watermarks(wm=last.wm, account_wm=last.account_wm, hi=last.hi)
                return last
    made = len(_MADE)
    if made >= 5:
        raise RuntimeError("five P3 sets are enough for one bench database")
    data = p3_make(workers, per_worker, prefix="bench.p3" if not made else f"bench.p3set{made}", series=str(7 - made))
    _MADE.append(data)
    return data


def _with_workers(sql: str) -> str:
    """`sql` with `u`: the chunk's workers (id, k) from the arrays %(ids)s and %(ks)s."""
    return f"WITH u AS (SELECT * FROM unnest(%(ids)s::bigint[], %(ks)s::int[]) AS u(id, k)) {sql}"


def _facility_of(user_id: int) -> int:
    from accounts.models import User

    return User.objects.values_list("facility_id", flat=True).get(pk=user_id)


def _local(day: date, seconds: int):
    from datetime import datetime, time

    from django.utils import timezone

    return timezone.make_aware(datetime.combine(day, time()) + timedelta(seconds=seconds))


def _records(pool: int, facility: int, series: str) -> list[int]:
    """`pool` records of the facility (reference ids `series`…), their ids in order."""
    from records.models import Beneficiary

    insert_series(
        Beneficiary,
        pool,
        {
            "reference_id": f"'{series}' || lpad(s::text, 13, '0')",
            "name": "'Bench record ' || s",
            "year_of_birth": "1990 + s %% 30",
            "gender": "'F'",
            "id_type": "'aadhaar'",
            "id_number": "lpad(s::text, 12, '0')",
            "facility_id": "%(facility)s",
        },
        {"facility": facility},
        label="records",
    )
    made = Beneficiary.objects.filter(
        name__startswith="Bench record ", reference_id__startswith=series, is_canary=False
    )
    return list(made.order_by("reference_id").values_list("pk", flat=True))


def _events_insert(*, old: bool, split, bens: list[int], canary: int) -> int:
    """Copy the staged events before (`old`) or from `split` into the access log in time order; its last id."""
    from django.db import connection, transaction

    sql = """
        INSERT INTO records_accessevent (created_at, actor_id, actor_seq, action, outcome, beneficiary_id, purpose,
                                         detail, ip_address, device_id, prev_hash, hash, pace_mean, pace_sd)
        SELECT at, actor_id, seq, action, outcome,
               CASE WHEN ben = -1 THEN %(canary)s WHEN ben IS NOT NULL THEN (%(bens)s::bigint[])[ben + 1] END,
               purpose, '{}'::jsonb, ip, NULL, '', '', pace_mean, pace_sd
        FROM p3_events WHERE (at < %(split)s) = %(old)s ORDER BY at, actor_id, seq
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(sql, {"split": split, "old": old, "bens": bens, "canary": canary})
        made = cursor.rowcount
        cursor.execute("SELECT MAX(id) FROM records_accessevent")
        last = cursor.fetchone()[0]
    progress("history events" if old else "scored events", made, made)
    return last


def _explanations(*, lo: int, hi: int, facility: int, base: date) -> None:
    """Explain every look-up for a due dose by the record's appointment nearest its local day (within 3 days)."""
    from django.conf import settings
    from django.db import connection, transaction

    sql = """
        INSERT INTO records_accessexplanation (event_id, actor_id, event_at, kind, source_id, reviewed_by_id, reason,
                                               created_at)
        SELECT e.id, e.actor_id, e.created_at, 'appointment', a.id, NULL, '', now()
        FROM records_accessevent e
        JOIN records_appointment a ON a.beneficiary_id = e.beneficiary_id AND a.facility_id = %(facility)s
         AND a.date = %(base)s::date + 7 * LEAST(6, GREATEST(0,
             ((e.created_at AT TIME ZONE %(tz)s)::date - %(base)s::date + 3) / 7))
        WHERE e.id > %(lo)s AND e.id <= %(hi)s AND e.action IN ('view', 'reveal') AND e.outcome = 'allowed'
          AND e.beneficiary_id IS NOT NULL AND e.purpose = %(due)s
    """
    step = 2_000_000
    for start in range(lo, hi, step):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "lo": start,
                    "hi": min(start + step, hi),
                    "facility": facility,
                    "base": base,
                    "tz": settings.TIME_ZONE,
                    "due": DUE,
                },
            )
        progress("look-ups explained (by id)", min(start + step, hi) - lo, hi - lo)


def _account_events(ids: list[int], day: date, split) -> tuple[int, int]:
    """Logins and failed logins (module docstring), the history first; (its last id, the log's last id)."""
    from django.conf import settings
    from django.db import connection, transaction

    from accounts.models import AccountEventType as Type

    quiet = ", ".join(map(str, QUIET))
    jitter = _rand("u.k * 1000 + r.run", "i")
    made = f"""
        SELECT u.id AS actor, u.id AS subject, {int(Type.LOGIN_SUCCEEDED)} AS type,
               ((%(day)s::date - h)::timestamp
                   + make_interval(secs => 28500 + floor({_rand("u.k", "h")} * 1000) / 1000.0))
                   AT TIME ZONE %(tz)s AS at,
               {_own_ip("u.k", "h", "28500")} AS ip
        FROM u CROSS JOIN generate_series(0, {HISTORY_DAYS}) h
        WHERE u.k %% 50 NOT IN ({quiet}) AND (h = 0 OR extract(isodow FROM %(day)s::date - h) <> 7)
        UNION ALL
        SELECT NULL, u.id, {int(Type.LOGIN_FAILED)},
               (%(day)s::date + make_interval(secs => 28440 + floor({_rand("u.k", "77")} * 1000) / 1000.0))
                   AT TIME ZONE %(tz)s, {_own_ip("u.k", "0", "0")}
        FROM u WHERE u.k %% 50 BETWEEN 10 AND 19
        UNION ALL
        SELECT NULL, u.id, r.type, ((%(day)s::date - r.day_off)::timestamp + make_interval(secs => r.start + i * r.step
                   + CASE WHEN r.pattern = 'ms' THEN floor({jitter} * 300) / 1000.0 ELSE 0 END)) AT TIME ZONE %(tz)s,
               {_own_ip("u.k", "0", "0")}
        FROM u JOIN (VALUES {values_sql(FAILURES)}) AS r(run, c, day_off, start, n, step, pattern, type)
            ON r.c = u.k %% 50
        CROSS JOIN generate_series(0, r.n - 1) i
    """
    sql = f"""
        WITH u AS (SELECT * FROM unnest(%(ids)s::bigint[], %(ks)s::int[]) AS u(id, k)), made AS ({made})
        INSERT INTO accounts_accountevent (type, actor_id, subject_id, reason, ip_address, data, created_at)
        SELECT type, actor, subject, '', ip, '{{}}'::jsonb, at FROM made WHERE (at < %(split)s) = %(old)s ORDER BY at
    """
    ends = []
    for old in (True, False):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "ids": ids,
                    "ks": list(range(1, len(ids) + 1)),
                    "day": day,
                    "tz": settings.TIME_ZONE,
                    "split": split,
                    "old": old,
                },
            )
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM accounts_accountevent")
            ends.append(cursor.fetchone()[0])
    progress("account events", 1, 1)
    return ends[0], ends[1]


def _watermarks(*, wm: int, account_wm: int, hi: int) -> None:
    """The anomalies job scored the history (up to `wm`, `account_wm`); the explain job judged the whole log."""
    from records.models import AnomalyWatermark

    Stream = AnomalyWatermark.Stream
    for stream, last in ((Stream.ACCESS_EVENTS, wm), (Stream.ACCOUNT_EVENTS, account_wm), (Stream.EXPLANATIONS, hi)):
        AnomalyWatermark.objects.update_or_create(stream=stream, defaults={"last_id": last})
