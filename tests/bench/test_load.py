"""`make load`: its arithmetic, its verdict on failed requests, and one tiny run of the whole machinery for real
(the production profile on a fresh database, locust signing in as workers and a supervisor, both mixes)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

import bench._load as load
from bench._load_stats import Mix, percentile, ratios
from tests.integration import reachable_redis_url
from tests.integration.conftest import database_url_for

ROOT = Path(settings.BASE_DIR)
RUN_SECONDS = 240  # the whole tiny run: seeding, start-up, 2 × 6 s of load, the stop; typically 50 s
MIX_KEYS = {"rps", "p50_ms", "p95_ms", "p99_ms", "errors", "requests", "by_kind", "rss_mb"}


def _entry(name: str, times: dict[int, int], failures: int = 0, start: float = 100.0, last: float = 110.0) -> dict:
    return {
        "name": name,
        "response_times": {str(ms): n for ms, n in times.items()},  # JSON keys, as locust writes them
        "num_requests": sum(times.values()),
        "num_failures": failures,
        "start_time": start,
        "last_request_timestamp": last,
    }


def test_percentile_is_the_smallest_time_covering_the_fraction():
    histogram = Counter({10: 50, 20: 45, 300: 4, 900: 1})
    assert percentile(histogram, 0.50) == 10
    assert percentile(histogram, 0.95) == 20
    assert percentile(histogram, 0.99) == 300
    assert percentile(histogram, 1.0) == 900
    assert percentile(Counter(), 0.99) == 0


def test_a_mix_adds_its_rounds_histograms_and_seconds():
    mix = Mix()
    mix.add_round([_entry("record", {10: 90}), _entry("login code", {200: 10}, failures=1)])
    mix.add_round([_entry("record", {30: 100}, start=500.0, last=520.0)])

    figures = mix.figures()

    assert figures["seconds"] == 30.0  # 10 s and 20 s of rounds
    assert figures["requests"] == 200 and figures["errors"] == 1
    assert figures["rps"] == round(200 / 30, 2)
    assert figures["by_kind"]["record"]["requests"] == 190
    assert figures["by_kind"]["record"]["p50_ms"] == 30  # 100 of its 190 answers took 30 ms, in the 2nd round
    assert figures["p99_ms"] == 200


def test_ratios_hold_the_goal_to_throughput_and_p99():
    def mix(rps: float, p99: float) -> dict:
        return {"rps": rps, "p99_ms": p99, "by_kind": {"record": {"rps": rps / 2, "p99_ms": p99}}}

    assert ratios(mix(90, 140), mix(100, 100))["goal_met"] is True
    assert ratios(mix(80, 140), mix(100, 100))["goal_met"] is False  # 0.8x the throughput
    found = ratios(mix(90, 160), mix(100, 100))
    assert found["goal_met"] is False and found["p99_ratio"] == 1.6 and found["record_rps_ratio"] == 0.9


def test_make_load_fails_when_a_request_failed_and_still_writes_its_figures(tmp_path, monkeypatch, capsys):
    mix = {"rps": 50.0, "p50_ms": 9.0, "p95_ms": 30.0, "p99_ms": 60.0, "requests": 500, "by_kind": {}}
    mix["rss_mb"] = {"web_max": 150.0, "worker_max": 90.0}
    answer = {**mix, "errors": 0, "baseline": {**mix, "errors": 0}}
    answer["baseline"].update(rps_ratio=1.0, p99_ratio=1.0, record_rps_ratio=1.0, record_p99_ratio=1.0, goal_met=True)
    output = tmp_path / "load.json"

    monkeypatch.setattr(load, "run", lambda config, env: answer)
    assert load.main(["--output", str(output)]) == 0
    answer["baseline"]["errors"] = 3
    assert load.main(["--output", str(output)]) == 1

    assert json.loads(output.read_text())["baseline"]["errors"] == 3
    assert "FAILED" in capsys.readouterr().err


def test_make_load_refuses_without_its_services(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert load.main(["--output", str(tmp_path / "load.json")]) == 2
    assert "REDIS_URL not set" in capsys.readouterr().err
    assert not (tmp_path / "load.json").exists()


@pytest.mark.django_db
@pytest.mark.redis
@pytest.mark.slow
def test_the_load_machinery_runs_both_mixes_with_no_error_and_cleans_up(tmp_path):
    output = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRAHARI_", "CELERY_", "LOAD_"))}
    env.update(DATABASE_URL=database_url_for(connection.settings_dict), REDIS_URL=reachable_redis_url())
    command = [sys.executable, "-m", "bench._load", "--output", str(output), "--seconds", "6", "--rounds", "1"]
    # Enough accounts that no session waits for one (each signs in once per 30-second code) even on a fast machine.
    command += ["--users", "3", "--supervisors", "1", "--warmup", "0", "--accounts-per-user", "30"]
    command += ["--beneficiaries", "300", "--lookups", "8", "--pages", "6"]

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_SECONDS)

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(output.read_text())
    for mix in (result, result["baseline"]):
        assert set(mix) >= MIX_KEYS
        assert mix["errors"] == 0 and mix["requests"] > 0 and "login password" in mix["by_kind"]
        assert mix["rss_mb"]["web_max"] > 0 and mix["rss_mb"]["worker_max"] > 0
        assert len(mix["rss_mb"]["web"]) == 2  # WEB_CONCURRENCY's default: two gunicorn workers
    # A few seconds on a busy machine: every step was taken, if not in both mixes.
    kinds = set(result["by_kind"]) | set(result["baseline"]["by_kind"])
    assert {"login code", "home", "record", "dashboard"} <= kinds, kinds
    assert {"rps_ratio", "p99_ratio", "goal_met"} <= set(result["baseline"])

    # Everything it started has stopped, and its database is gone.
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", result["setup"]["port"], timeout=2).connect()
    params = {"dbname": "postgres", "autocommit": True, "host": connection.settings_dict.get("HOST") or None}
    params.update(user=connection.settings_dict.get("USER") or None, port=connection.settings_dict.get("PORT") or None)
    with psycopg.connect(**{k: v for k, v in params.items() if v}) as admin:
        name = f"{connection.settings_dict['NAME']}_load"
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
