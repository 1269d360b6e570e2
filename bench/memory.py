"""P7: the peak resident memory of one web process of the production profile under the load of `make load`;
P7sweep: the peak resident memory of one anomaly sweep over the P3 data.

Runs `make load`'s machinery (bench/_load.py) with the governed mix only, for a short time (small 10 s,
full 30 s): the production profile on a fresh database of its own, gunicorn with WEB_CONCURRENCY workers
(default 2), workers and supervisors signing in (password, TOTP, approved device) and reading records and
console pages. The value is the largest VmHWM (the kernel's peak resident set, so nothing between samples
is missed) of the gunicorn worker processes at the end of the run, in MB.

The goal is absolute, ≤ 250 MB, whatever the baseline: the figure registers it as a `ceiling` (bench/__init__.py)
rather than as a ratio. The baseline is still measured in the same run, as for every figure: the largest
resident memory of the same web processes once they answer and before the first simulated person arrives
(the application loaded, nothing served but the readiness probe), so the ratio says how much the load adds.
Django's Argon2id hasher takes 100 MiB per password check by its parameters, so each login lifts a web
process by about that much: that is most of the difference.

It needs the PostgreSQL server of DATABASE_URL and the Redis of REDIS_URL, as `make load` does (skipped
without them), and fails when any request failed.

P7sweep makes (or reuses, when P3 made it in the same run and nothing was logged since) the P3 data of the
size (bench/_p3_data.py: small 1,000 workers and about 104,000 events scored, full 100,000 and 10.4 million),
then runs the anomalies job in a process of its own (bench/_sweep_job.py: `manage.py governance anomalies
--dry-run` against the bench database, without REDIS_URL), as a governance worker runs it: every step, all
rolled back at its end so each round does the same work. The value is the child's peak resident memory
(the kernel's VmHWM, read through wait4 when it ends), the baseline the same process's resident memory at
rest (Django, the job's modules and its connection loaded, before the job starts); medians over the rounds
(small 3, full 1). The goal is absolute, ≤ 512 MB (a `ceiling`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from bench import ROOT, Result, Skip, django_setup, figure, repetitions

P7_CEILING_MB = 250
P7SWEEP_CEILING_MB = 512


@figure("P7", "web process peak RSS under load", ceiling=P7_CEILING_MB)
def web_memory(size: str) -> Result:
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise Skip(f"P7 runs the production profile: it needs {' and '.join(missing)}")
    seconds = repetitions(size, small=10, full=30)
    with tempfile.TemporaryDirectory(prefix="prahari-p7-") as tmp:
        output = Path(tmp) / "load.json"
        command = [sys.executable, "-m", "bench._load", "--governed-only", "--rounds", "1", "--warmup", "0"]
        command += ["--seconds", str(seconds), "--output", str(output)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode or not output.exists():
            raise RuntimeError(f"the load run failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
        result = json.loads(output.read_text())
    memory = result["rss_mb"]
    peak, idle = memory["high_water"]["web_max"], memory["idle"]["web_max"]
    return Result(
        value=peak,
        baseline=idle,
        unit="MB",
        size=size,
        repetitions=result["requests"],
        notes=f"{result['setup']['users']} simulated people for {seconds} s: {result['requests']} requests, "
        f"{result['rps']} requests/s, p99 {result['p99_ms']:.0f} ms, errors {result['errors']}; web processes' "
        f"peaks {memory['high_water']['web']} MB, idle {memory['idle']['web']} MB; Celery worker processes' "
        f"peak {memory['high_water']['worker_max']} MB",
        extra={
            "web": memory["high_water"]["web"],
            "worker_max": memory["high_water"]["worker_max"],
            "requests": result["requests"],
            "web_concurrency": result["setup"]["web_concurrency"],
        },
    )


@figure("P7sweep", "anomaly sweep peak RSS", ceiling=P7SWEEP_CEILING_MB)
def sweep_memory(size: str) -> Result:
    from bench.anomalies import SIZES

    rounds = repetitions(size, small=3, full=1)
    django_setup()
    from django.db import connection

    from bench._p3_data import p3_data

    workers, per_worker = SIZES[size]
    data = p3_data(workers, per_worker)
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DATABASE_URL"] = _url_of_database(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    runs = [_sweep_once(env) for _ in range(rounds)]
    peaks, rests = [run["peak_mb"] for run in runs], [run["rest_mb"] for run in runs]
    summary = runs[-1]["summary"]
    return Result(
        value=statistics.median(peaks),
        baseline=statistics.median(rests),
        unit="MB",
        size=size,
        repetitions=rounds,
        notes=f"{workers:,} workers, {summary.get('events_scored', 0):,} events scored "
        f"({data.scored:,} made), {data.wm - data.before:,} of history; peaks "
        + ", ".join(f"{p:.0f}" for p in peaks)
        + " MB, at rest "
        + ", ".join(f"{r:.0f}" for r in rests)
        + " MB; each run "
        + ", ".join(f"{run['seconds']:.1f}" for run in runs)
        + " s",
        extra={"events_scored": summary.get("events_scored", 0), "hits": sum((summary.get("alerts") or {}).values())},
    )


def _url_of_database(url: str, name: str) -> str:
    """`url` (DATABASE_URL) naming the database `name` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _sweep_once(env: dict) -> dict:
    """One run of bench/_sweep_job.py: its memory at rest and its peak (MB), its summary and its seconds."""
    import time

    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "bench._sweep_job"], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = [json.loads(line) for line in out.read().splitlines() if line.strip()]
        if child.returncode or len(lines) != 3:
            raise RuntimeError(f"the sweep's process failed ({child.returncode}): {err.read()[-2000:]}")
    rest, summary, end = lines
    if summary.get("job") != "anomalies" or "skipped" in summary:
        raise RuntimeError(f"the sweep did not run: {summary}")
    peak_kb = max(usage.ru_maxrss, end["peak_kb"])  # Linux: ru_maxrss in kB, the whole life of the process
    return {"rest_mb": rest["rest_kb"] / 1024, "peak_mb": peak_kb / 1024, "summary": summary, "seconds": seconds}
