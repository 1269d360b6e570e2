"""P7: the peak resident memory of one web process of the production profile under the load of `make load`.

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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import ROOT, Result, Skip, figure, repetitions

P7_CEILING_MB = 250


@figure("P7", "Web process peak RSS under load", ceiling=P7_CEILING_MB)
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
