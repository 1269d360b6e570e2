"""P3: the anomalies job (dry run) against a plain-SQL baseline that finds the same hits.

Data (bench/_p3_data.py, set-based SQL): small is 1,000 workers, full 100,000, each with 30 days of history
(logins, 7 to 14 requests a working day, some nights) and a scored day of 100 requests at a human pace
from four addresses, so the job scores about 100 events per worker (10,000,000 at full size) and its rules
look back over the month (about 2.5 times as many older events). About 2% of the accounts trip each rule
(burst, cadence, night, addresses, out of scope, baseline spike, unexplained views by day and by week,
failed logins, canary); others sit just on either side of a threshold or mix old and new events in one
window. The watermarks are left where the history ends, as if an earlier run had scored it; the explain
job has judged the whole log (it runs on its own every 10 minutes).

The value is one run of the job as production runs it (`job_run("anomalies", dry_run=True)`: everything
it writes rolled back, so every round scores the same events from the same watermarks): the explain step's
re-check of recent unexplained look-ups, every rule, the merged windows, the evidence, the alerts and
their history, the suspensions and digests, the console's tallies, the watermarks.

The baseline (bench/_p3_baseline.py) is one SQL statement, written from the rules' definitions and not
from the job's SQL, that returns the same hits: every rule the job runs, over the same events, with the
same windows (10 minutes ending at a view, 60 minutes of addresses, nights from 22:00 to 06:00, local
days, the 95th percentile of the month's active days, seven days of unexplained look-ups, 30-request
cadence windows, 10 minutes of failed logins), the windows of one rule and account merged and those
already alerted dropped, as the job does. It is fair because it does all the finding and nothing else:
it reads the same rows, including the figures the log keeps for this (each event's cadence figures,
the explanation rows) which the job reads too instead of recomputing them; it runs in one transaction
with the job's session settings for its statement (no JIT, the job's work_mem, set with SET LOCAL as the
job sets them); it writes nothing. The ratio is thus what the job costs beyond finding its hits.
`tests/bench/test_p3_baseline.py` checks that both find the same hits, rule by rule, window by window,
on a small set; here the figure fails unless the two agree on the number of hits of every rule and on the
accounts suspended and flagged.

Rounds alternate which side runs first (job then baseline, baseline then job, …): 5 at small size, 3 at
full; value and baseline are the medians. Goal: ≤ 2×.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

from bench import Result, django_setup, figure, repetitions

SIZES = {"small": (1_000, 100), "full": (100_000, 100)}  # workers, requests per worker on the scored day


def _baseline_summary(rows: list[tuple]) -> dict:
    """The counts the job's summary reports, from the baseline's hits."""
    from bench._p3_baseline import SUSPENDING

    severe = {row[1] for row in rows if row[2] in SUSPENDING and row[6]}
    return {
        "alerts": dict(sorted(Counter(row[0] for row in rows).items())),
        "suspended": len(severe),
        "flagged": len({row[1] for row in rows} - {row[1] for row in rows if row[2] in SUSPENDING}),
    }


@figure("P3", "anomalies job vs plain SQL, same hits", goal=2.0)
def anomaly_sweep(size: str) -> Result:
    rounds = repetitions(size, small=5, full=3)
    django_setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench._p3_baseline import baseline_hits
    from bench._p3_data import p3_data
    from governance.jobs import job_run

    workers, per_worker = SIZES[size]
    data = p3_data(workers, per_worker)
    times: dict[str, list[float]] = {"job": [], "baseline": []}
    found: dict[str, dict] = {}
    captured = None

    def job() -> None:
        nonlocal captured
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            summary = job_run("anomalies", dry_run=True)
        times["job"].append(time.perf_counter() - started)
        found["job"] = {key: summary.get(key) for key in ("alerts", "suspended", "flagged", "events_scored")}

    def baseline() -> None:
        started = time.perf_counter()
        rows = baseline_hits(
            wm=data.wm, hi=data.hi, account_wm=data.account_wm, account_hi=data.account_hi, now=timezone.now()
        )
        times["baseline"].append(time.perf_counter() - started)
        found["baseline"] = _baseline_summary(rows)

    for n in range(rounds):
        for step in (job, baseline) if n % 2 == 0 else (baseline, job):
            step()
    job_found, base_found = found["job"], found["baseline"]
    if any(job_found[key] != base_found[key] for key in ("alerts", "suspended", "flagged")):
        raise RuntimeError(f"the job and the baseline disagree: job {job_found}, baseline {base_found}")
    hits = sum(job_found["alerts"].values())
    slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:2]
    return Result(
        value=statistics.median(times["job"]),
        baseline=statistics.median(times["baseline"]),
        unit="s",
        size=size,
        queries=len(captured),
        repetitions=rounds,
        notes=f"{workers:,} workers, {job_found['events_scored']:,} events scored, {data.wm - data.before:,} of "
        f"history; hits (job = baseline) {hits:,}: {job_found['alerts']}; suspended {job_found['suspended']}, "
        f"flagged {job_found['flagged']} (both); rounds job "
        + ", ".join(f"{t:.3f}" for t in times["job"])
        + " s, baseline "
        + ", ".join(f"{t:.3f}" for t in times["baseline"])
        + " s; the job's slowest statements: "
        + "; ".join(f"{float(q['time']):.3f} s {' '.join(q['sql'].split())[:60]}" for q in slowest),
        extra={"hits": hits, "events_scored": job_found["events_scored"], "history_events": data.wm - data.before},
    )
