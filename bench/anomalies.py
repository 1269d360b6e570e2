"""P3: the anomaly sweep (`governance anomalies`) against one raw SQL aggregate computing the same counts.

The data is made by set-based SQL on PostgreSQL (`generate_series`, a progress line per chunk): small
is 1,000 workers with 100 access events each (100,000), full 100,000 workers (10,000,000 events). Each
worker's day is irregular (a look-up every 4 to 8 minutes from 08:00, two IP addresses, 1% out-of-scope); one
worker in a hundred bursts (a look-up every 5 to 8 seconds), so the high rule fires and suspends. The
rows skip the hash chain (prev_hash and hash are empty): the bench database is thrown away and the
sweep never reads them. They carry the pace the append keeps for the cadence rule (computed here with
window functions; bench P5 measures the append that computes it).

The value is one whole run of the job as a dry run (everything it writes rolled back, so every
repetition scores the same events from an empty watermark): every rule, the evidence, the alerts, the
suspensions. The baseline is one statement over the same events computing the numbers the rules
compare (the most views within 10 minutes, out-of-scope requests and night views per local day,
distinct IP addresses, the spread of the gaps) with no windows merged, no evidence and nothing
written. Goal: ≤ 2×.
"""

from __future__ import annotations

import statistics
import time

from bench import Result, django_setup, figure, repetitions
from bench._rows import progress, workers_make

SIZES = {"small": (1_000, 100), "full": (100_000, 100)}  # workers, events per worker
CHUNK_EVENTS = 1_000_000

BASELINE = """
    WITH ev AS (
        SELECT actor_id, action, outcome, ip_address, date_part('epoch', created_at) AS t
        FROM records_accessevent WHERE id > 0 AND id <= %(hi)s
    ), w AS (
        SELECT actor_id, action, outcome, ip_address, t,
               COUNT(*) FILTER (WHERE action = 'view') OVER (
                   PARTITION BY actor_id ORDER BY t RANGE BETWEEN 600::float8 PRECEDING AND CURRENT ROW
               ) AS burst,
               t - LAG(t) OVER (PARTITION BY actor_id ORDER BY t) AS gap
        FROM ev
    )
    SELECT actor_id, FLOOR((t + 19800) / 86400) AS day, MAX(burst),
           COUNT(*) FILTER (WHERE outcome = 'out_of_scope'),
           COUNT(*) FILTER (WHERE action = 'view' AND ((t + 19800 + 7200)::bigint %% 86400) < 28800),
           COUNT(DISTINCT ip_address), STDDEV_POP(gap) / NULLIF(AVG(gap), 0)
    FROM w GROUP BY actor_id, FLOOR((t + 19800) / 86400)
"""


def _events(worker_ids: list[int], per_worker: int) -> int:
    """Insert `per_worker` access events for each worker with generate_series, a chunk of workers at a time."""
    from django.conf import settings
    from django.db import connection, transaction

    # Each event's pace (mean and spread of the gaps between its chain's latest 30 requests), as the append
    # keeps it (records/audit.py `pace`): a gap, a running sum of squared gaps, then the window's differences.
    sql = """
        INSERT INTO records_accessevent (created_at, actor_id, actor_seq, action, outcome, beneficiary_id,
                                         purpose, detail, ip_address, device_id, prev_hash, hash, pace_mean, pace_sd)
        SELECT at, id, s, action, outcome, NULL, 'due_dose', '{}'::jsonb, ip, NULL, '', '',
               CASE WHEN s >= %(window)s THEN (t - t0) / (%(window)s - 1) END,
               CASE WHEN s >= %(window)s THEN SQRT(GREATEST(
                   (squares - squares0) / (%(window)s - 1) - ((t - t0) / (%(window)s - 1)) ^ 2, 0)) END
        FROM (
            SELECT *, LAG(t, %(window)s - 1) OVER w AS t0, LAG(squares, %(window)s - 1) OVER w AS squares0
            FROM (
                SELECT *, SUM(COALESCE(gap * gap, 0)) OVER (w ROWS UNBOUNDED PRECEDING) AS squares
                FROM (
                    SELECT *, t - LAG(t) OVER w AS gap FROM (
                        SELECT u.id, s, %(day)s::timestamptz + make_interval(secs => CASE WHEN u.k %% 100 = 0
                                   THEN s * 5 + random() * 3 ELSE s * 240 + random() * 240 END) AS at,
                               CASE WHEN s %% 3 = 0 THEN 'search' ELSE 'view' END AS action,
                               CASE WHEN random() < 0.01 THEN 'out_of_scope' ELSE 'allowed' END AS outcome,
                               ('10.' || (u.k %% 250) || '.' || (u.k / 250 %% 250) || '.' || (s %% 2 + 1))::inet AS ip
                        FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM accounts_user
                              WHERE id = ANY(%(ids)s)) u
                        CROSS JOIN generate_series(1, %(n)s) AS s
                    ) made, LATERAL (SELECT EXTRACT(EPOCH FROM made.at)::float8 AS t) epoch
                    WINDOW w AS (PARTITION BY id ORDER BY s)
                ) gapped WINDOW w AS (PARTITION BY id ORDER BY s)
            ) summed WINDOW w AS (PARTITION BY id ORDER BY s)
        ) paced ORDER BY s, id
    """
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    # Yesterday from 08:00 local: a working day of about 10 hours (the bursting workers' minutes at its start).
    day = timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=1), time(8)))
    total, step = len(worker_ids) * per_worker, max(1, CHUNK_EVENTS // per_worker)
    for start in range(0, len(worker_ids), step):
        with transaction.atomic(), connection.cursor() as cursor:
            ids, window = worker_ids[start : start + step], settings.PRAHARI_ANOMALY_CADENCE_REQUESTS
            cursor.execute(sql, {"ids": ids, "n": per_worker, "day": day, "window": window})
        progress("access events", min(start + step, len(worker_ids)) * per_worker, total)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_accessevent")
        cursor.execute("SELECT MAX(id) FROM records_accessevent")
        return cursor.fetchone()[0]


@figure("P3", "anomaly sweep vs one raw SQL aggregate of the same counts", goal=2.0)
def anomaly_sweep(size: str) -> Result:
    reps = repetitions(size, small=3, full=1)
    django_setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.jobs import job_run
    from records.models import AnomalyWatermark

    workers, per_worker = SIZES[size]
    hi = _events(workers_make(workers, prefix="bench.p3"), per_worker)
    AnomalyWatermark.objects.update(last_id=0)
    sweeps, aggregates, summary, queries = [], [], {}, 0
    for _ in range(reps):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE, {"hi": hi})
            rows = len(cursor.fetchall())
        aggregates.append(time.perf_counter() - started)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            summary = job_run("anomalies", dry_run=True)
        sweeps.append(time.perf_counter() - started)
        queries = len(captured)
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
    return Result(
        value=statistics.median(sweeps),
        baseline=statistics.median(aggregates),
        unit="s",
        size=size,
        queries=queries,
        repetitions=reps,
        notes=f"{workers:,} workers, {summary.get('events_scored', 0):,} events; alerts {summary.get('alerts')}, "
        f"suspended {summary.get('suspended')}; the aggregate returned {rows:,} rows; slowest statements: "
        + "; ".join(f"{float(q['time']):.3f} s {' '.join(q['sql'].split())[:70]}" for q in slowest),
    )
