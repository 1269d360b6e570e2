"""Prahari's benchmarks (`make bench`, CONTRACT.md): each figure is timed against a baseline measured in the same run.

A figure is a function registered with `@figure("P<n>", ...)` in any module of this package (or of a
`bench/figures/` subpackage); `python -m bench` imports them all, runs them, prints each figure and
merges the results into `bench/results/latest.json`:

    {"P1": {"value": …, "baseline": …, "ratio": …, "unit": "s", "queries": …, "size": "small"}, …}

Figures run against real settings (`portal.settings.base`, DEBUG off, Argon2 passwords) on a throwaway
`<name>_bench` database created on the server of DATABASE_URL, or of the embedded PostgreSQL under var/ without
it (docs/database.md), and dropped afterwards. The benchmarks are not part of the pytest suite.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pkgutil
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SIZES = ("small", "full")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"


class Skip(Exception):
    """Raised by a figure that cannot run here (e.g. something it needs is missing); printed, not a failure."""


@dataclass(frozen=True)
class Result:
    """What one figure measured: `value` and `baseline` in `unit` per operation (medians)."""

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

    def as_json(self) -> dict:
        """The entry CONTRACT.md fixes for bench/results/latest.json, with `extra` when a figure has one."""
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
    goal: float | None  # the ratio the issue asks for (value / baseline ≤ goal), if any
    run: Callable[[str], Result]

    def goal_met(self, result: Result) -> bool | None:
        return None if self.goal is None else result.ratio <= self.goal


FIGURES: dict[str, Figure] = {}


def figure(figure_id: str, title: str, *, goal: float | None = None):
    """Register `run(size) -> Result` as figure `figure_id` (P1 … P6, as the issues name them)."""

    def register(run: Callable[[str], Result]) -> Callable[[str], Result]:
        if figure_id in FIGURES and FIGURES[figure_id].run is not run:
            raise ValueError(f"figure {figure_id} is registered twice")
        FIGURES[figure_id] = Figure(figure_id, title, goal, run)
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
    return dict(sorted(FIGURES.items(), key=lambda item: _figure_sort_key(item[0])))


def _figure_sort_key(figure_id: str):
    digits = figure_id.lstrip("P")
    return (0, int(digits), figure_id) if digits.isdigit() else (1, 0, figure_id)


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
