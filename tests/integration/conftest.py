"""Fixtures that run a real Celery worker as a subprocess against the test database.

The worker has its own database connection, so the tests that use it are transactional
(`django_db(transaction=True)`): rows the test creates are committed and visible to the worker, and
the worker's deletions are visible to the test. The worker reaches the test database on the same server,
the one of DATABASE_URL or the embedded one (through its socket directory).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import UserSession
from tests.integration import reachable_redis_url, unique_queue_name

WAIT_TIMEOUT_SECONDS = 60.0
POLL_INTERVAL_SECONDS = 0.2
WORKER_STOP_TIMEOUT_SECONDS = 20.0


def database_url_for(settings_dict: Mapping) -> str:
    """A DATABASE_URL (as portal settings parse it) naming the database of `settings_dict`."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "", safe="")  # a socket directory becomes %2F…
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    name = quote(settings_dict["NAME"], safe="")
    options = settings_dict.get("OPTIONS") or {}
    options = {key: value for key, value in options.items() if isinstance(value, str | int)}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{credentials}{host}{port}/{name}{query}"


@pytest.fixture
def worker_database_url(transactional_db) -> str:
    """DATABASE_URL of the test database (e.g. test_prahari), for processes started by the test."""
    return database_url_for(connection.settings_dict)


@pytest.fixture
def redis_url() -> str:
    """REDIS_URL, pinged: skip when unset (fail with PRAHARI_REQUIRE_SERVICES=1), fail when unreachable."""
    return reachable_redis_url()


@dataclass
class WorkerProcess:
    queue: str
    log_path: Path
    process: subprocess.Popen
    started_at: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"

    def stop(self) -> int:
        """Warm shutdown (SIGTERM), then SIGKILL if the worker does not exit in time; returns the exit code."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
        return self.process.returncode

    def wait_for(self, condition: Callable[[], bool], *, what: str, timeout: float = WAIT_TIMEOUT_SECONDS) -> float:
        """Poll `condition` until it holds; fail with the worker's output on timeout or if the worker dies.

        Returns the seconds since the worker was started.
        """
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return time.monotonic() - self.started_at
            if not self.alive():
                pytest.fail(
                    f"the Celery worker exited (code {self.process.returncode}) before {what}.\n"
                    f"--- worker output ---\n{self.output()}",
                    pytrace=False,
                )
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"{what}: not within {timeout:.0f}s of sending the task.\n--- worker output ---\n{self.output()}",
                    pytrace=False,
                )
            time.sleep(POLL_INTERVAL_SECONDS)


StartWorker = Callable[..., WorkerProcess]


def _celery_process(
    arguments: list[str], *, database_url: str, env: Mapping[str, str | None] | None, log_path: Path, queue: str
) -> WorkerProcess:
    """Start `celery -A portal <arguments>` with the test settings and database; output to `log_path`.

    `env` overrides the inherited environment (os.environ, which holds the test settings' secret key);
    a value of None removes the variable.
    """
    process_env = os.environ.copy()
    process_env.update(DJANGO_SETTINGS_MODULE="portal.settings.test", DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    for key, value in (env or {}).items():
        if value is None:
            process_env.pop(key, None)
        else:
            process_env[key] = value
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", *arguments],
            cwd=settings.BASE_DIR,
            env=process_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C on pytest does not reach it; the fixture's finalizer stops it
        )
    return WorkerProcess(queue=queue, log_path=log_path, process=process)


@pytest.fixture
def start_celery_worker(tmp_path: Path, worker_database_url: str) -> Iterator[StartWorker]:
    """Start `celery -A portal worker` on one queue, with the test database; stopped after the test.

    `env` overrides the inherited environment (os.environ, which holds the test settings' secret key);
    a value of None removes the variable. The worker's output goes to a file, printed at teardown
    (pytest shows it when the test fails).
    """
    workers: list[WorkerProcess] = []

    def start(*, queue: str, env: Mapping[str, str | None] | None = None) -> WorkerProcess:
        arguments = ["worker", "--pool", "solo", "-Q", queue, "--hostname", f"{queue}@%h"]
        arguments += ["--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        log_path = tmp_path / f"worker-{len(workers)}.log"
        worker = _celery_process(arguments, database_url=worker_database_url, env=env, log_path=log_path, queue=queue)
        workers.append(worker)
        return worker

    yield start

    # Stop every worker before the database teardown: PostgreSQL cannot drop a database in use.
    for worker in workers:
        code = worker.stop()
        print(f"--- Celery worker on {worker.queue} (exit code {code}) ---\n{worker.output()}")


@pytest.fixture
def start_celery_beat(tmp_path: Path, worker_database_url: str) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `celery -A portal beat` with the configured scheduler (portal.beat.SingleBeatScheduler: the
    database schedule, sent only while holding the beat lock) on the test database."""
    beats: list[WorkerProcess] = []

    def start(*, env: Mapping[str, str | None] | None = None) -> WorkerProcess:
        n = len(beats)
        arguments = ["beat", "--max-interval", "1"]
        arguments += ["--pidfile", str(tmp_path / f"beat-{n}.pid"), "--loglevel", "INFO"]
        log_path = tmp_path / f"beat-{n}.log"
        beat = _celery_process(arguments, database_url=worker_database_url, env=env, log_path=log_path, queue="beat")
        beats.append(beat)
        return beat

    yield start

    for beat in beats:
        code = beat.stop()
        print(f"--- Celery beat (exit code {code}) ---\n{beat.output()}")


@dataclass
class SessionRows:
    expired_key: str
    live_key: str

    def expired_gone(self) -> bool:
        return not UserSession.objects.filter(session_key=self.expired_key).exists()

    def live_present(self) -> bool:
        return UserSession.objects.filter(session_key=self.live_key).exists()


@pytest.fixture
def session_rows(transactional_db) -> SessionRows:
    """One session that expired an hour ago and one that expires in an hour, committed."""
    now, hour = timezone.now(), timedelta(hours=1)
    expired = UserSession.objects.create(session_key=uuid.uuid4().hex, session_data="", expire_date=now - hour)
    live = UserSession.objects.create(session_key=uuid.uuid4().hex, session_data="", expire_date=now + hour)
    return SessionRows(expired_key=expired.session_key, live_key=live.session_key)


@pytest.fixture
def redis_queue(redis_url: str) -> Iterator[str]:
    """A unique queue name on the Redis broker; its list and binding keys are deleted afterwards."""
    import redis

    queue = unique_queue_name()
    yield queue
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        bindings = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]  # kombu's tables
        keys = [queue, *bindings, *client.scan_iter(match=f"{queue}\x06\x16*")]  # and priority lists
        client.delete(*keys)
    finally:
        client.close()
