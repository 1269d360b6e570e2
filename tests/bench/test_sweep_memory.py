"""P7sweep: the anomaly sweep's peak memory, measured in a process of its own; where its id sorts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

import bench
from bench._readme import figures_block
from records.models import AnomalyWatermark
from tests.integration.conftest import database_url_for

ROOT = Path(settings.BASE_DIR)
RUN_SECONDS = 600  # a fresh bench database, the small P3 data and three sweeps: typically under two minutes


def test_figure_ids_sort_by_number_then_suffix():
    ids = ["P10", "P8", "P7sweep", "P7", "P2", "other"]
    assert sorted(ids, key=bench.figure_sort_key) == ["P2", "P7", "P7sweep", "P8", "P10", "other"]
    registered = list(bench.discover())
    assert registered.index("P7") + 1 == registered.index("P7sweep") == registered.index("P8") - 1
    entry = {"value": 2.0, "baseline": 1.0, "ratio": 2.0, "unit": "MB", "size": "small"}
    lines = figures_block({fid: entry for fid in ("P8", "P7sweep", "P7")}).splitlines()
    assert [line.split()[1] for line in lines] == ["**P7**", "**P7sweep**", "**P8**"]


def test_p7sweep_runs_the_sweep_in_its_own_process_and_writes_its_entry(tmp_path):
    output = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRAHARI_", "CELERY_", "REDIS_"))}
    # A name of its own: the bench makes `<name>_bench` on that server, so a `make bench` there never clashes.
    env["DATABASE_URL"] = database_url_for(
        {**connection.settings_dict, "NAME": connection.settings_dict["NAME"] + "_p7s"}
    )
    command = [sys.executable, "-m", "bench", "--size", "small", "--only", "P7sweep", "--output", str(output)]

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_SECONDS)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = json.loads(output.read_text())
    assert list(written) == ["P7sweep"]
    entry = written["P7sweep"]
    assert (entry["unit"], entry["size"], entry["goal"]) == ("MB", "small", "≤ 512 MB")
    assert entry["engine"].startswith("PostgreSQL") and entry["commit"] and entry["when"]
    # The peak is the child's whole life; at rest it had loaded Django and the job but not run it.
    assert entry["value"] > entry["baseline"] > 20
    assert entry["met"] is (entry["value"] <= 512)
    assert entry["extra"]["events_scored"] > 100_000  # 1,000 workers' scored day: the sweep did its work
    assert entry["extra"]["hits"] > 0
    assert "P7sweep  anomaly sweep peak RSS" in done.stdout


@pytest.mark.django_db
def test_p3_data_reuses_its_set_until_the_logs_grow_then_makes_another_beside_it(monkeypatch):
    from accounts.models import AccountEvent, AccountEventType
    from bench import _p3_data
    from records.models import Beneficiary

    monkeypatch.setattr(_p3_data, "_MADE", [])
    first = _p3_data.p3_data(50, 10)
    AnomalyWatermark.objects.update(last_id=0)  # as a figure's rolled-back run never leaves them, but moved

    assert _p3_data.p3_data(50, 10) is first  # nothing logged since: the same set, its watermarks put back
    assert AnomalyWatermark.objects.get(stream=AnomalyWatermark.Stream.ACCESS_EVENTS).last_id == first.wm

    AccountEvent.objects.create(type=AccountEventType.LOGIN_FAILED, subject_id=first.workers[0], data={})
    second = _p3_data.p3_data(50, 10)  # the account log grew: a run would score more, so a new set

    assert second is not first and second.before >= first.hi  # on top of the first set's events
    assert not set(second.workers) & set(first.workers)
    canaries = Beneficiary.objects.filter(is_canary=True, reference_id__in=["79999999999999", "69999999999999"])
    assert canaries.count() == 2  # each set its own records and canary (reference ids 7… and 6…)
    assert second.scored == first.scored  # the same work: the same size of scored day
