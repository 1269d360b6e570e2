"""`make load`: the production profile on this machine under a realistic mix, governed and ungoverned.

1. A fresh database of its own (`<DATABASE_URL's name>_load`, on the same server; dropped at the end),
   migrated and seeded by bench/_load_seed.py (the demo, plus an account and device per simulated session).
2. The production profile as `make serve` starts it (portal/serve.py: DEBUG off, migrate, collectstatic,
   `check --deploy`, honcho with gunicorn of WEB_CONCURRENCY workers, a Celery worker per queue, beat) on
   a free port, its Celery queues named for this run; gunicorn serves bench/_load_wsgi.py, which adds
   bench/_urls.py's ungoverned record page and nothing else. The load tool plays the TLS proxy.
3. Once /readyz (or /healthz) answers and beat's start-up jobs are done: a short warm-up, then the governed
   mix and the baseline mix (bench/_locustfile.py) in interleaved rounds (G B, B G, …), each mix
   LOAD_SECONDS in all, with the same simulated people, concurrency and duration.
4. bench/results/load.json (CONTRACT.md): rps, p50/p95/p99 and errors of the governed mix, by kind of
   request, the peak resident memory of each web and Celery worker process while it ran, and `baseline`:
   the same for the ungoverned mix, with the ratios. Exit 1 when any request failed.

Every process it started is stopped (also on Ctrl-C, SIGTERM or a failure), its queues are emptied and its
database dropped. Settings (environment, or the options of `python -m bench._load --help`): LOAD_SECONDS
(60), LOAD_ROUNDS (4), LOAD_USERS (12), LOAD_SUPERVISORS (2 of them), LOAD_LOOKUPS (10 per worker
session), LOAD_PAGES (10 per supervisor session), LOAD_WARMUP (5 s), LOAD_BENEFICIARIES (1,800),
WEB_CONCURRENCY (2), LOAD_ACCOUNTS_PER_USER (40), LOAD_OUTPUT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import ROOT, commit, now_iso
from bench._load_run import LoadError, LoadRun

OUTPUT = ROOT / "bench" / "results" / "load.json"


@dataclass(frozen=True)
class Config:
    seconds: int
    rounds: int
    users: int
    supervisors: int
    lookups: int
    pages: int
    warmup: int
    beneficiaries: int
    web_concurrency: int
    accounts_per_user: int
    output: Path
    governed_only: bool = False

    @property
    def workers(self) -> int:
        return self.users - self.supervisors


def config_parse(argv: list[str] | None = None, env=os.environ) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench._load", description=__doc__.splitlines()[0])

    def number(name: str, default: int) -> int:
        value = env.get(name, "").strip()
        if not value:
            return default
        if not value.isdigit():
            parser.error(f"{name}={value!r} is not a whole number")
        return int(value)

    parser.add_argument("--seconds", type=int, default=number("LOAD_SECONDS", 60), help="per mix, all rounds")
    parser.add_argument("--rounds", type=int, default=number("LOAD_ROUNDS", 4))
    parser.add_argument("--users", type=int, default=number("LOAD_USERS", 12), help="simulated people at once")
    parser.add_argument("--supervisors", type=int, default=number("LOAD_SUPERVISORS", 2), help="of the users")
    parser.add_argument("--lookups", type=int, default=number("LOAD_LOOKUPS", 10), help="per worker session")
    parser.add_argument("--pages", type=int, default=number("LOAD_PAGES", 10), help="per supervisor session")
    parser.add_argument("--warmup", type=int, default=number("LOAD_WARMUP", 5), help="seconds, not measured")
    parser.add_argument("--beneficiaries", type=int, default=number("LOAD_BENEFICIARIES", 1800))
    parser.add_argument("--web-concurrency", type=int, default=number("WEB_CONCURRENCY", 2))
    parser.add_argument("--accounts-per-user", type=int, default=number("LOAD_ACCOUNTS_PER_USER", 40))
    parser.add_argument("--output", type=Path, default=Path(env.get("LOAD_OUTPUT") or OUTPUT))
    parser.add_argument("--governed-only", action="store_true", help="no baseline mix (P7)")
    args = parser.parse_args(argv)
    config = Config(**vars(args))
    if config.users < 1 or not 0 <= config.supervisors < config.users:
        parser.error("--users must be 1 or more, and --supervisors fewer than --users")
    if min(config.seconds, config.rounds, config.lookups, config.pages, config.accounts_per_user) < 1:
        parser.error("--seconds, --rounds, --lookups, --pages and --accounts-per-user must be 1 or more")
    if config.seconds < config.rounds:
        parser.error("--seconds must be at least --rounds (each round runs a whole number of seconds)")
    return config


def run(config: Config, env: dict[str, str]) -> dict:
    """Do the whole run (see the module) and return load.json's object."""
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name, "").strip()]
    if missing:
        raise LoadError(
            f"{' and '.join(missing)} not set: make load runs the production profile on a PostgreSQL "
            "server and a Redis (docs/operations.md)"
        )
    load = LoadRun(config, env)
    started = time.monotonic()

    def step(message: str) -> None:
        print(f"==> [{time.monotonic() - started:5.0f} s] {message}", flush=True)

    try:
        step(f"A fresh database {load.database}: migrating and seeding it")
        engine = load.database_create()
        accounts = load.seed()
        step(f"Starting the production profile on 127.0.0.1:{load.port}")
        load.serve_start()
        load.ready_wait()
        step("Ready; waiting for the jobs beat sends at its start")
        load.settle()
        mixes = "the governed mix" if config.governed_only else "the governed and the baseline mix"
        step(f"{config.users} simulated people, {mixes}, {config.seconds} s each in {config.rounds} round(s)")
        load_before = os.getloadavg()
        result = load.drive(accounts)
        machine = {
            "cores": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        step("Stopping the production profile, emptying its queues, dropping its database")
        load.close()
    settings = {k: v for k, v in asdict(config).items() if k != "output"}
    settings.update(workers=config.workers, think_time_s=0, port=load.port, total_s=round(time.monotonic() - started))
    return {**result, "setup": settings, "machine": machine, "engine": engine, "commit": commit(), "when": now_iso()}


def main(argv: list[str] | None = None) -> int:
    config = config_parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run(config, dict(os.environ))
    except LoadError as error:
        print(f"make load: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make load: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(summary(result, config.output))
    if result.get("account_wait_s"):
        print(
            f"make load: sessions waited {result['account_wait_s']} s for a free account (each signs in once per "
            "30-second code): fewer people were at work than --users says; raise LOAD_ACCOUNTS_PER_USER",
            file=sys.stderr,
        )
    if result["errors"] or result.get("baseline", {}).get("errors"):
        print("make load: FAILED: some requests failed (see above and `by_kind`)", file=sys.stderr)
        return 1
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def summary(result: dict, output: Path) -> str:
    def line(name: str, mix: dict) -> str:
        return (
            f"{name:<9} {mix['rps']:7.1f} requests/s  p50 {mix['p50_ms']:.0f}  p95 {mix['p95_ms']:.0f}  "
            f"p99 {mix['p99_ms']:.0f} ms  errors {mix['errors']}  web peak {mix['rss_mb']['web_max']} MB, "
            f"worker peak {mix['rss_mb']['worker_max']} MB"
        )

    lines = [f"Wrote {output}", line("governed", result)]
    if (baseline := result.get("baseline")) is not None:
        lines.append(line("baseline", baseline))
        lines.append(
            f"ratios: requests/s {baseline['rps_ratio']}x, p99 {baseline['p99_ratio']}x (record pages: "
            f"{baseline['record_rps_ratio']}x, {baseline['record_p99_ratio']}x); "
            f"goal {'met' if baseline['goal_met'] else 'MISSED'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
