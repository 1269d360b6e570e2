"""`make serve`, the production profile: refuses to start without its services and secret, passes
`check --deploy`, and for real: gunicorn, a worker per queue and beat on a fresh PostgreSQL database and Redis,
answering /healthz and serving hashed, compressed static files, then stopping cleanly on SIGTERM."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from bench._load_run import group_alive
from tests.integration import reachable_redis_url
from tests.integration.conftest import database_url_for

ROOT = Path(settings.BASE_DIR)
START_SECONDS = 90.0  # migrating a fresh database on a loaded machine; typically 15-25 s
STOP_SECONDS = 30.0
PROXY = {"X-Forwarded-Proto": "https"}  # the TLS proxy's word that the client came over HTTPS


def production_env(**extra: str) -> dict[str, str]:
    """The environment without the test run's settings (DJANGO_*, PRAHARI_*, CELERY_*), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRAHARI_", "CELERY_"))}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


def make_serve(env: dict[str, str], **popen) -> subprocess.Popen:
    # `-o install`: this run's packages are installed already; the recipe under test is `serve`'s own.
    return subprocess.Popen(["make", "--no-print-directory", "-o", "install", "serve"], cwd=ROOT, env=env, **popen)


def test_serve_refuses_to_start_naming_each_missing_setting(tmp_path):
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", "install", "serve"],
        cwd=ROOT,
        env=production_env(PRAHARI_VAR_DIR=str(tmp_path), DJANGO_DEBUG="1", WEB_CONCURRENCY="many"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    for expected in (
        "DATABASE_URL is not set",
        "REDIS_URL is not set",
        "DJANGO_SECRET_KEY is not set",
        "DJANGO_DEBUG is on",
        "WEB_CONCURRENCY='many'",
    ):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "static").exists(), "nothing may be done before the settings are complete"


@pytest.mark.django_db
def test_check_deploy_is_clean_under_the_production_profile(tmp_path):
    env = production_env(
        DATABASE_URL=database_url_for(connection.settings_dict),
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",  # check --deploy connects to neither
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="prahari.health.example.in",
        DJANGO_BEHIND_PROXY="1",
        DJANGO_TRUSTED_PROXIES="10.0.0.0/8",
        PRAHARI_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="portal.settings.base",
    )
    manage = [sys.executable, "manage.py"]
    check = subprocess.run(
        [*manage, "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout

    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.STORAGES['staticfiles']['BACKEND'], s.MIDDLEWARE[:3], s.SECURE_SSL_REDIRECT,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    shown = subprocess.run(
        [*manage, "shell", "--no-imports", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == (
        "False whitenoise.storage.CompressedManifestStaticFilesStorage "
        "['portal.middleware.RequestObservationMiddleware', 'django.middleware.security.SecurityMiddleware', "
        "'whitenoise.middleware.WhiteNoiseMiddleware'] "
        "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class Serving:
    """`make serve` running in the background, its output in a file; `stop` ends it and everything it started."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = make_serve(env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition, *, what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"make serve exited ({self.process.returncode}) before {what}\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {START_SECONDS:.0f}s\n{self.output()}", pytrace=False)
            time.sleep(0.3)

    def children(self) -> list[int]:
        """honcho's children: each the leader of a session of its own (gunicorn, workers, beat under it)."""
        return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", self.output())]

    def stop(self) -> int | None:
        """SIGTERM, as Ctrl-C or a service manager would; whatever survives the grace period is killed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_SECONDS)
        deadline = time.monotonic() + STOP_SECONDS
        while (survivors := [pid for pid in self.children() if group_alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.2)  # a worker's pool processes may outlive their parent by a moment
        for pid in survivors:
            os.killpg(pid, signal.SIGKILL)
        return self.process.returncode if not survivors else None


@pytest.fixture
def fresh_database() -> str:
    """A new, empty database on the test database's server, dropped afterwards: `make serve` migrates it."""
    params = {k: v for k, v in connection.settings_dict.items() if k in ("USER", "PASSWORD", "HOST", "PORT")}
    name = f"prahari_serve_{uuid.uuid4().hex[:12]}"
    server = {"dbname": "postgres", "autocommit": True}
    server.update({"user": params.get("USER"), "password": params.get("PASSWORD"), "host": params.get("HOST")})
    server.update({"port": params.get("PORT") or None})
    server = {k: v for k, v in server.items() if v not in (None, "")}
    with psycopg.connect(**server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield database_url_for({**connection.settings_dict, "NAME": name, "OPTIONS": {}})
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.redis
@pytest.mark.slow
def test_make_serve_runs_the_production_profile_for_real(tmp_path, fresh_database):
    redis_url = reachable_redis_url()
    port, prefix = free_port(), f"prahari-serve-{uuid.uuid4().hex[:8]}"
    env = production_env(
        DATABASE_URL=fresh_database,
        REDIS_URL=redis_url,
        CELERY_QUEUE=prefix,  # its workers consume only its own queues
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_BEHIND_PROXY="1",  # this test is the TLS proxy: it says https with X-Forwarded-Proto
        PRAHARI_VAR_DIR=str(tmp_path / "var"),
        PRAHARI_BIND=f"127.0.0.1:{port}",
        PRAHARI_METRICS_TOKEN=(token := secrets.token_urlsafe(32)),
        WEB_CONCURRENCY="2",
    )
    stale = tmp_path / "var" / "metrics" / "counter_0.db"  # an earlier run's counts: make serve starts afresh
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    serving = Serving(env, tmp_path / "serve.log")
    try:
        serving.wait_for(lambda: _answers(port), what="/healthz answering")
        status, _, body = get(port, "/healthz")
        assert (status, json.loads(body)) == (200, {"db": "ok", "broker": "ok"})
        assert len(re.findall(r"Booting worker with pid", serving.output())) == 2, "WEB_CONCURRENCY=2 web workers"

        # Static files, through gunicorn: the page links the hashed name, which comes gzipped when asked.
        manifest = json.loads((tmp_path / "var" / "static" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["portal/prahari.css"]
        assert re.fullmatch(r"portal/prahari\.[0-9a-f]{12}\.css", hashed)
        status, _, page = get(port, "/accounts/login/", PROXY)
        assert status == 200
        assert f'href="/static/{hashed}"'.encode() in page
        status, headers, body = get(port, f"/static/{hashed}", {**PROXY, "Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["content-encoding"] == "gzip"
        assert "immutable" in headers["cache-control"]
        original = (ROOT / "portal" / "static" / "portal" / "prahari.css").read_bytes()
        assert gzip.decompress(body) == original
        status, headers, body = get(port, f"/static/{hashed}", PROXY)
        assert (status, headers.get("content-encoding"), body) == (200, None, original)
        status, headers, _ = get(port, f"/static/{hashed}")  # plain HTTP, not through the proxy: to HTTPS
        assert status == 301 and headers["location"].startswith("https://")

        # /metrics sums both web processes' counts, from a directory make serve emptied first.
        assert not stale.exists()
        status, _, metrics = get(port, "/metrics", {**PROXY, "Authorization": f"Bearer {token}"})
        login_count = rb'prahari_http_request_duration_seconds_count\{[^}]*route="accounts:login"[^}]*\} [1-9]'
        assert status == 200 and re.search(login_count, metrics), metrics.decode()[-2000:]

        # A worker per queue, each receiving what the routes send it, and one beat holding the beat lock.
        serving.wait_for(lambda: "this beat holds the beat lock" in serving.output(), what="beat holding the lock")
        producer = _producer(redis_url, prefix, tmp_path)
        try:
            sent = {
                "notifications": producer.send_task("accounts.drain_notifications").id,
                "governance": producer.send_task("accounts.clear_expired_sessions").id,
            }
        finally:
            producer.close()
        for worker, task_id in sent.items():
            serving.wait_for(
                lambda w=worker, t=task_id: re.search(rf"{w}\.1 +\| .*Task \S+\[{t}\] succeeded", serving.output()),
                what=f"the {worker} worker running the task routed to it",
            )
    finally:
        code = serving.stop()
        _queues_forget(redis_url, prefix)
    output = serving.output()
    assert code is not None, f"processes outlived make serve's stop:\n{output}"
    for name in ("web.1", "notifications.1", "governance.1", "beat.1"):
        assert f"{name} stopped" in output, f"{name} did not stop\n{output}"
    assert "Warm shutdown" in output
    assert not _answers(port), "gunicorn still answers after the stop"


def _answers(port: int) -> bool:
    try:
        return get(port, "/healthz")[0] == 200
    except OSError:
        return False


def _producer(redis_url: str, prefix: str, tmp_path: Path):
    """A Celery app configured as the profile's (same routes and queues), publishing from this test process."""
    from celery import Celery

    from portal.settings.queues import celery_settings

    producer = Celery("prahari-serve-test-producer", set_as_current=False, fixups=[])
    configured = celery_settings(prefix=prefix, redis_url=redis_url, var_dir=tmp_path, job_minutes=60)
    producer.conf.update({name.removeprefix("CELERY_").lower(): value for name, value in configured.items()})
    return producer


def _queues_forget(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        keys = [key for kind in ("notifications", "governance") for key in client.scan_iter(match=f"*{prefix}-{kind}*")]
        if keys:
            client.delete(*keys)
    finally:
        client.close()
