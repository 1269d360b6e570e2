"""Prahari's benchmarks (`make bench`, CONTRACT.md): each figure is timed against a baseline measured in the same run.

A figure is a function registered with `@figure("P<n>", ...)` in any module of this package (or of a
`bench/figures/` subpackage); `python -m bench` imports them all, runs them, prints each figure and
merges the results into `bench/results/latest.json`, one entry per figure id (`entry` below):

    {"P1": {"value": …, "baseline": …, "ratio": …, "unit": "s", "queries": …, "size": "small",
            "engine": "PostgreSQL 15.10", "commit": "399b2d3c1a2b+dirty", "when": "2026-12-04T01:00:00+00:00",
            "cores": 2, "title": …, "goal": "≤ 1.15x", "met": true}, …}

`value` and `baseline` are both in `unit`: "s" is seconds per operation (a median), a unit ending in "/s"
a rate (operations per second, more is better), "MB" an amount of memory (less is better). A figure that
fails or is skipped is removed from the file, never left stale. `python -m bench --readme` writes the
README's figures from the file (bench/_readme.py); bench/README.md says what each figure and its baseline
measure.

Figures run against real settings (`portal.settings.base`, DEBUG off, Argon2 passwords) on a throwaway
`<name>_bench` database created on the server of DATABASE_URL, or of the embedded PostgreSQL under var/ without
it (docs/database.md), and dropped afterwards. The benchmarks are not part of the pytest suite.
"""

from __future__ import annotations

import atexit
import importlib
import math
import os
import pkgutil
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SIZES = ("small", "full")
ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"


class Skip(Exception):
    """Raised by a figure that cannot run here (e.g. something it needs is missing); printed, not a failure."""


@dataclass(frozen=True)
class Result:
    """What one figure measured: `value` and `baseline` in `unit` (seconds per operation, or a rate "…/s")."""

    value: float
    baseline: float
    unit: str
    size: str
    queries: int | None = None  # database queries per operation, when the figure counts them
    repetitions: int = 0
    notes: str = ""  # printed only (e.g. a spread of query counts), never written to latest.json
    extra: dict = field(default_factory=dict)  # figures shown beside the headline (e.g. a second ratio)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def is_rate(self) -> bool:
        """A rate ("appends/s"): more is better, so its goals are floors, not ceilings."""
        return self.unit.endswith("/s")

    def as_json(self) -> dict:
        """The measured part of the entry CONTRACT.md fixes for bench/results/latest.json (`entry` adds the rest).

        Raises ValueError for a result no honest entry can be made of (a baseline of zero, a value that is
        not a number), so that the figure counts as failed and leaves no entry behind.
        """
        numbers = (self.value, self.baseline)
        if not all(isinstance(n, int | float) and math.isfinite(n) and n > 0 for n in numbers):
            raise ValueError(f"value {self.value!r} and baseline {self.baseline!r} must be positive numbers")
        if not self.unit:
            raise ValueError("a result needs its unit")
        entry = {
            "value": _round(self.value),
            "baseline": _round(self.baseline),
            "ratio": round(self.ratio, 4),
            "unit": self.unit,
            "queries": self.queries,
            "size": self.size,
        }
        if self.extra:
            entry["extra"] = {
                key: _round(value) if isinstance(value, float) else value for key, value in self.extra.items()
            }
        return entry


def _round(number: float) -> float:
    return float(f"{number:.6g}")


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    # The ratio the issue asks for: value / baseline ≤ goal, or for a rate (a unit "…/s") ≥ goal.
    goal: float | None
    run: Callable[[str], Result]
    floor: float | None = None  # for a rate: the value itself must reach this many per second
    ceiling: float | None = None  # for an amount (e.g. MB): the value itself must stay at or below it

    def goal_met(self, result: Result) -> bool | None:
        if self.goal is None and self.floor is None and self.ceiling is None:
            return None
        met = True
        if self.goal is not None:
            met = result.ratio >= self.goal if result.is_rate else result.ratio <= self.goal
        if self.floor is not None:
            met = met and result.value >= self.floor
        if self.ceiling is not None:
            met = met and result.value <= self.ceiling
        return met

    def goal_text(self, unit: str) -> str:
        """The goal in a few characters: "≤ 1.15x", "≥ 3,000/s and ≥ 0.85x", "≤ 250 MB" ("" without a goal)."""
        rate = unit.endswith("/s")
        parts = [] if self.floor is None else [f"≥ {self.floor:,.0f}/s"]
        if self.ceiling is not None:
            parts.append(f"≤ {self.ceiling:,.0f} {unit}")
        if self.goal is not None:
            parts.append(f"{'≥' if rate else '≤'} {self.goal:g}x")
        return " and ".join(parts)


FIGURES: dict[str, Figure] = {}


def figure(
    figure_id: str,
    title: str,
    *,
    goal: float | None = None,
    floor: float | None = None,
    ceiling: float | None = None,
):
    """Register `run(size) -> Result` as figure `figure_id` (P1 … P8 and P7sweep, as the issues name them).

    `goal`: the ratio to the baseline the issue asks for (a ceiling, or a floor for a rate); `floor`: for a
    rate, the value it must reach; `ceiling`: for an amount with an absolute limit (memory in MB), the most
    the value may be, whatever its baseline. The title is the figure's line in the README: keep it short.
    """

    def register(run: Callable[[str], Result]) -> Callable[[str], Result]:
        if figure_id in FIGURES and FIGURES[figure_id].run is not run:
            raise ValueError(f"figure {figure_id} is registered twice")
        FIGURES[figure_id] = Figure(figure_id, title, goal, run, floor, ceiling)
        return run

    return register


def repetitions(size: str, *, small: int, full: int) -> int:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: use one of {', '.join(SIZES)}")
    return small if size == "small" else full


def discover() -> dict[str, Figure]:
    """Import every module of this package (and of bench/figures/ if it exists) so their figures register."""
    import bench

    for module in pkgutil.walk_packages(bench.__path__, prefix="bench."):
        last = module.name.rsplit(".", 1)[-1]
        if last.startswith("_"):
            continue  # __main__ and private helpers
        importlib.import_module(module.name)
    return dict(sorted(FIGURES.items(), key=lambda item: figure_sort_key(item[0])))


def figure_sort_key(figure_id: str):
    """P1 < P2 < … < P7 < P7sweep < P8 < P10: by number, then a figure's suffix; ids of another form last."""
    match = re.fullmatch(r"P(\d+)(\w*)", figure_id)
    return (0, int(match[1]), match[2]) if match else (1, 0, figure_id)


# --- Provenance: where and when a figure was measured ----------------------------------------------


def engine() -> str:
    """The database of the bench connection and its version, e.g. "PostgreSQL 15.10"."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0].split()[0]  # "15.10 (Debian 15.10-0+deb12u1)": the number only
        else:
            version = str(getattr(connection.Database, "sqlite_version", "") or "unknown")
    return f"{connection.display_name} {version}"


def commit(root: Path = ROOT) -> str:
    """The checked-out commit (12 hex digits), "+dirty" when the tree differs from it (new files included);
    "unknown" outside a git checkout."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)  # noqa: S603, S607
        if done.returncode:
            raise OSError(done.stderr.strip())
        return done.stdout

    try:
        head = git("rev-parse", "--short=12", "HEAD").strip()
        dirty = bool(git("status", "--porcelain").strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def now_iso() -> str:
    """This moment in ISO 8601, UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def provenance() -> dict:
    """Where a figure was measured: engine, commit, when (ISO 8601, UTC; `python -m bench` sets it again as
    each figure ends), the machine's cores."""
    return {"engine": engine(), "commit": commit(), "when": now_iso(), "cores": os.cpu_count()}


def entry(fig: Figure, result: Result, run: dict) -> dict:
    """The latest.json entry of `fig`: what it measured, the run's provenance, its title and goal."""
    return {
        **result.as_json(),
        **run,
        "title": fig.title,
        "goal": fig.goal_text(result.unit),
        "met": fig.goal_met(result),
    }


# --- Django, configured once for every figure ----------------------------------------------------

_django_ready = False


def django_setup() -> None:
    """Configure Django with the real settings on a throwaway, migrated database (idempotent).

    DEBUG is off and the password hasher is Argon2, as in production. A `<name>_bench` database is created on
    the server of DATABASE_URL, or without it on the embedded PostgreSQL of var/ (started or joined here, as
    `make run` does), and dropped at exit, so no real data is touched. Everything else settings keep under
    PRAHARI_VAR_DIR (broker, checkpoints, the collected static files) goes to a temporary directory.
    """
    global _django_ready
    if _django_ready:
        return
    if not os.environ.get("DATABASE_URL"):
        from portal.embedded_postgres import embedded_database_url

        var = Path(os.environ.get("PRAHARI_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
        os.environ["DATABASE_URL"] = embedded_database_url(var)  # this process holds the server until it exits
    var_dir = Path(tempfile.mkdtemp(prefix="prahari-bench-"))
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.base"  # the real settings, never the test ones
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["PRAHARI_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")  # axes logs every login at INFO

    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    # DEBUG off names static files by their hashes from collectstatic's manifest, as `make serve` serves them.
    call_command("collectstatic", interactive=False, verbosity=0)

    if "testserver" not in settings.ALLOWED_HOSTS:  # django.test.Client's host, as the test runner adds it
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    real_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{real_name}_bench"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    atexit.register(connection.creation.destroy_test_db, real_name, verbosity=0)
    _django_ready = True
