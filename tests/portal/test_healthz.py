"""/healthz: 200 with {"db": "ok", "broker": "ok"|"down"}, no login (CONTRACT.md §URLs)."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from django.db import connections

from portal.celery import app as celery_app
from tests.integration import reachable_redis_url

pytestmark = pytest.mark.django_db

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
HEALTHZ_DEADLINE_SECONDS = 8  # a health check must answer well within a load balancer's timeout


def get_healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_reports_ok_with_the_configured_broker(client):
    """Redis with REDIS_URL, the embedded filesystem broker without it: either way both parts are up."""
    assert get_healthz(client) == (200, {"db": "ok", "broker": "ok"})


@pytest.fixture
def redis_url() -> str:
    """REDIS_URL, pinged: skip when unset (fail with PRAHARI_REQUIRE_SERVICES=1), fail when unreachable."""
    return reachable_redis_url()


@pytest.mark.redis
def test_healthz_reports_broker_ok_with_redis(client, redis_url):
    assert celery_app.conf.broker_url == redis_url, "with REDIS_URL set the Celery broker must be that Redis"

    assert get_healthz(client) == (200, {"db": "ok", "broker": "ok"})


def test_healthz_answers_with_broker_down_when_the_broker_is_unreachable(client, monkeypatch):
    # Celery read its configuration from Django settings once; point that loaded configuration (not the
    # Django setting, which Celery no longer reads) at a dead broker. monkeypatch restores it afterwards.
    for variable in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL"):  # these would win over the configuration
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", UNREACHABLE_BROKER)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", UNREACHABLE_BROKER)

    assert get_healthz(client) == (200, {"db": "ok", "broker": "down"})


class SilentServer:
    """A TCP server that accepts connections and never answers: a wedged Redis, as seen from a client."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"

    def _accept(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self._held.append(self._listener.accept()[0])

    def close(self) -> None:
        """Stop accepting and close every held connection: a client still waiting gets EOF."""
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._listener.close()


def test_healthz_answers_promptly_when_the_broker_accepts_but_never_answers(client, monkeypatch):
    server = SilentServer()
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", server.url)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", server.url)
    results: list[tuple[int, dict]] = []

    def request() -> None:
        try:
            results.append(get_healthz(client))
        finally:
            connections.close_all()  # this thread's own database connection

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    thread.join(timeout=HEALTHZ_DEADLINE_SECONDS)
    answered_in_time = not thread.is_alive()
    server.close()  # releases a request still blocked on the silent socket
    thread.join(timeout=HEALTHZ_DEADLINE_SECONDS)

    assert answered_in_time, f"/healthz did not answer within {HEALTHZ_DEADLINE_SECONDS}s with a silent broker"
    assert results == [(200, {"db": "ok", "broker": "down"})]
