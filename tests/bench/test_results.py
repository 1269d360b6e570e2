"""bench's results file: provenance in every entry, failed or skipped figures removed, P6's query check."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime

import pytest

import bench
from bench.__main__ import merge, run_figures
from bench.console import same_queries


def _result(value: float = 2.0, baseline: float = 1.0, unit: str = "s") -> bench.Result:
    return bench.Result(value=value, baseline=baseline, unit=unit, size="small", queries=7, repetitions=3)


def _figure(figure_id: str, run, goal: float | None = 2.0, floor: float | None = None) -> bench.Figure:
    return bench.Figure(figure_id, f"test figure {figure_id}", goal, run, floor)


def _raise(size):
    raise RuntimeError("the figure broke")


def _skip(size):
    raise bench.Skip("not here")


@pytest.mark.django_db
def test_run_figures_writes_provenance_and_removes_failed_and_skipped(tmp_path):
    output = tmp_path / "latest.json"
    stale = {"value": 1, "baseline": 1, "ratio": 1, "unit": "s", "queries": 1, "size": "full"}
    output.write_text(json.dumps({fid: stale for fid in ("P1", "P2", "P3", "P4", "P5", "P9")}))
    figures = {
        "P1": _figure("P1", lambda size: _result(3.0, 2.0)),
        "P2": _figure("P2", _raise),
        "P3": _figure("P3", _skip),
        "P4": _figure("P4", lambda size: _result(1.0, 0.0)),  # no baseline: no honest ratio
    }

    failed = run_figures(figures, "small", output, known={"P1", "P2", "P3", "P4", "P5"})

    written = json.loads(output.read_text())
    assert failed == ["P2", "P4"]
    assert sorted(written) == ["P1", "P5"]  # P5 not run now: kept; P9 is no figure any more
    assert written["P5"] == stale
    entry = written["P1"]
    assert {"value", "baseline", "ratio", "unit", "queries", "size", "engine", "commit", "when", "cores"} <= set(entry)
    assert (entry["value"], entry["baseline"], entry["ratio"], entry["size"]) == (3.0, 2.0, 1.5, "small")
    assert entry["goal"] == "≤ 2x" and entry["met"] is True and entry["title"] == "test figure P1"


def test_merge_keeps_figures_not_run_and_replaces_those_run(tmp_path):
    output = tmp_path / "latest.json"
    output.write_text(json.dumps({"P1": {"old": 1}, "P2": {"old": 2}}))
    merged = merge(output, {"P2": {"new": 2}}, removed=set())
    assert merged == {"P1": {"old": 1}, "P2": {"new": 2}}
    assert json.loads(output.read_text()) == merged


def test_merge_writes_a_removal_even_when_nothing_succeeded(tmp_path):
    output = tmp_path / "latest.json"
    output.write_text(json.dumps({"P6": {"old": 6}, "P1": {"old": 1}}))
    merge(output, {}, removed={"P6"})
    assert json.loads(output.read_text()) == {"P1": {"old": 1}}


@pytest.mark.django_db
def test_engine_names_the_bench_connection_and_its_version():
    from django.db import connection

    major, minor = divmod(connection.pg_version, 10_000)
    assert bench.engine() == f"PostgreSQL {major}.{minor}"


def test_provenance_commit_and_cores_of_this_checkout():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=bench.ROOT, capture_output=True, text=True, check=True)
    found = bench.commit()
    assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?", found)
    assert head.stdout.startswith(found.removesuffix("+dirty"))
    when = datetime.fromisoformat(bench.now_iso())
    assert when.tzinfo is not None and abs((datetime.now(UTC) - when).total_seconds()) < 60
    assert bench.entry(_figure("P1", None), _result(), {"cores": os.cpu_count()})["cores"] == os.cpu_count()


def test_commit_says_dirty_when_the_tree_has_changes(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, check=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "one")
    clean = bench.commit(tmp_path)
    (tmp_path / "a.txt").write_text("two\n")
    assert bench.commit(tmp_path) == clean + "+dirty"
    assert "+" not in clean
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "new.txt").write_text("new\n")
    assert bench.commit(tmp_path) == clean + "+dirty"


def test_commit_outside_a_checkout_is_unknown(tmp_path):
    assert bench.commit(tmp_path / "nowhere") == "unknown"


def test_goal_of_a_rate_is_a_floor():
    fig = _figure("P5", None, goal=0.85, floor=3000)
    assert fig.goal_text("appends/s") == "≥ 3,000/s and ≥ 0.85x"
    assert fig.goal_met(_result(3200, 3500, "appends/s")) is True
    assert fig.goal_met(_result(2900, 3000, "appends/s")) is False  # under the floor
    assert fig.goal_met(_result(3100, 4000, "appends/s")) is False  # under 0.85 of the baseline
    assert _figure("P1", None, goal=1.15).goal_met(_result(1.2, 1.0)) is False
    assert _figure("P7", None, goal=None).goal_met(_result()) is None


def test_goal_of_an_amount_is_a_ceiling_whatever_the_baseline():
    fig = bench.Figure("P7", "memory", None, None, ceiling=250)
    assert fig.goal_text("MB") == "≤ 250 MB"
    assert fig.goal_met(_result(240, 80, "MB")) is True  # three times its idle size, under the ceiling
    assert fig.goal_met(_result(251, 250, "MB")) is False  # barely above its baseline, over the ceiling


def test_p6_fails_when_a_page_runs_other_queries_in_the_large_district():
    same_queries({("small", "users_first"): {10}, ("large", "users_first"): {10}})
    with pytest.raises(RuntimeError, match="large users_first: \\[11\\]"):
        same_queries({("small", "users_first"): {10}, ("large", "users_first"): {11}})
    with pytest.raises(RuntimeError, match="round after round"):
        same_queries({("small", "log_deep"): {10, 11}, ("large", "log_deep"): {10, 11}})
    with pytest.raises(RuntimeError):
        same_queries({("small", "alerts_deep"): {11}})  # a page measured in one district only
