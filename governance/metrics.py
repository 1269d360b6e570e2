"""Prometheus metrics of the governance jobs, observed by `job_run` (governance/jobs.py), the one place every
job runs (beat's tasks, `manage.py governance`).

A run's outcome is `succeeded`, `dry_run`, `skipped` (another run held the job's lock) or `failed` (it
raised; its transaction rolled back). Durations are wall-clock seconds of the whole run, lock included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = ("succeeded", "dry_run", "skipped", "failed")
JOB_RUNS = Counter("prahari_governance_job_runs", "Governance job runs, by job and outcome.", ["job", "outcome"])
JOB_DURATION = Histogram(
    "prahari_governance_job_duration_seconds",
    "Wall-clock duration of governance job runs, by job and outcome.",
    ["job", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600),
)
# "max": in multi-process mode the latest success of any process is the one exported.
JOB_LAST_SUCCESS = Gauge(
    "prahari_governance_job_last_success_timestamp_seconds",
    "Unix time at which the latest successful run of each governance job ended (since the processes started).",
    ["job"],
    multiprocess_mode="max",
)


@dataclass
class Run:
    outcome: str = "succeeded"


@contextmanager
def job_observed(job: str) -> Iterator[Run]:
    """Time one run of `job` and count it under the outcome the caller sets on the yielded Run (`failed`
    when the block raises)."""
    run, started = Run(), time.perf_counter()
    try:
        yield run
    except BaseException:
        run.outcome = "failed"
        raise
    finally:
        JOB_RUNS.labels(job, run.outcome).inc()
        JOB_DURATION.labels(job, run.outcome).observe(time.perf_counter() - started)
        if run.outcome == "succeeded":
            JOB_LAST_SUCCESS.labels(job).set(time.time())


def jobs_exported(jobs: tuple[str, ...]) -> None:
    """Export the run counters of every job from the start, at 0, so rates work from the first run."""
    for job in jobs:
        for outcome in OUTCOMES:
            JOB_RUNS.labels(job, outcome)
