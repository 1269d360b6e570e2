"""Metrics and logs across real processes: counts of several processes summed once each (prometheus-client's
multi-process mode: commands, and gunicorn with two workers), and a request's id in the log of the Celery
worker that ran a task sent during it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from ipaddress import ip_network
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.http import HttpResponse
from prometheus_client.parser import text_string_to_metric_families

from accounts.tasks import clear_expired_sessions
from portal.middleware import RequestObservationMiddleware
from tests.portal.metrics_scrape import TOKEN, grown, scrape, scraper, value

if TYPE_CHECKING:
    from tests.integration.conftest import StartWorker

__all__ = ["scraper"]  # a fixture

RUNS = "prahari_governance_job_runs_total"
LATENCY = "prahari_http_request_duration_seconds_count"
PROXY = "10.0.0.1"
REQUEST_ID = "lb-5e1f0c9a-7d3b-4c2e"


def governance_process(job: str, *, database_url: str, metrics_dir: Path) -> None:
    """`manage.py governance JOB` in a process of its own, writing its metrics to `metrics_dir`."""
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    subprocess.run(
        [sys.executable, "manage.py", "governance", job], cwd=settings.BASE_DIR, env=env, check=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_counts_of_several_processes_are_summed_once_each(tmp_path, worker_database_url, scraper, settings):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    settings.PRAHARI_METRICS_MULTIPROC_DIR = metrics_dir
    before = scrape(scraper)
    assert value(before, RUNS, job="invitations", outcome="succeeded") is None  # nothing written yet

    for _ in range(3):
        governance_process("invitations", database_url=worker_database_url, metrics_dir=metrics_dir)
    governance_process("dormancy", database_url=worker_database_url, metrics_dir=metrics_dir)
    after = scrape(scraper)

    assert len(list(metrics_dir.glob("counter_*.db"))) == 4  # one file per process, none lost with its process
    assert grown(after, before, RUNS, job="invitations", outcome="succeeded") == 3
    assert grown(after, before, RUNS, job="dormancy", outcome="succeeded") == 1
    assert (
        grown(after, before, "prahari_governance_job_duration_seconds_count", job="invitations", outcome="succeeded")
        == 3
    )
    assert value(after, "prahari_database_up") == 1  # the scrape-time gauges once, beside the files' metrics


def json_lines(text: str) -> list[dict]:
    """The JSON lines of a process's output (Celery's banner is plain text); each must parse."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_during_a_request_logs_the_requests_id_in_the_worker(
    redis_url: str, redis_queue: str, start_celery_worker: StartWorker, rf, settings
):
    worker = start_celery_worker(
        queue=redis_queue, env={"REDIS_URL": redis_url, "CELERY_BROKER_URL": None, "PRAHARI_LOG_FORMAT": "json"}
    )
    settings.TRUSTED_PROXIES = (ip_network(f"{PROXY}/32"),)

    def view(request):
        clear_expired_sessions.apply_async(queue=redis_queue)
        return HttpResponse()

    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=REQUEST_ID)
    assert RequestObservationMiddleware(view)(request)["X-Request-ID"] == REQUEST_ID

    def task_logged() -> bool:
        return any(
            line.get("request_id") == REQUEST_ID and line.get("task") == "accounts.clear_expired_sessions"
            for line in json_lines(worker.output())
        )

    worker.wait_for(task_logged, what="the worker logging the task with the request's id")
    lines = json_lines(worker.output())
    started = next(line for line in lines if line.get("request_id") == REQUEST_ID)
    assert started["logger"] == "prahari.task" and started["task_id"]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (a local http URL the test built)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def gunicorn_two_workers(tmp_path, worker_database_url):
    """gunicorn with two sync workers on the test database, sharing one PROMETHEUS_MULTIPROC_DIR."""
    pytest.importorskip("gunicorn", reason="gunicorn (the production web server) is not installed")
    metrics_dir, port = tmp_path / "metrics", free_port()
    metrics_dir.mkdir()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": worker_database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PRAHARI_METRICS_TOKEN": TOKEN,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    arguments = ["-m", "gunicorn", "portal.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    with (tmp_path / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *arguments], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield base, metrics_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_count_each_request_once_whichever_answers_the_scrape(gunicorn_two_workers):
    base, metrics_dir = gunicorn_two_workers
    requests = 40
    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent, so both workers answer some
        statuses = list(pool.map(lambda _: get(f"{base}/accounts/login/")[0], range(requests)))
    assert statuses == [200] * requests
    assert len(list(metrics_dir.glob("histogram_*.db"))) == 2, "both workers answered (else nothing is proven)"

    counts = set()
    for _ in range(6):  # each scrape is answered by either worker
        status, body = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        counts.add(value(samples, LATENCY, route="accounts:login", method="GET"))
    assert counts == {requests}
    assert get(f"{base}/metrics")[0] == 404  # and no token, no metrics
