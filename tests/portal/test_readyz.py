"""/readyz: 200 when the database and the broker answer, 503 naming the one that does not; no login, no secret."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test import Client

from portal.celery import app as celery_app
from tests.integration import reachable_redis_url

pytestmark = pytest.mark.django_db

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def get_readyz(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


@pytest.fixture
def broker_on_a_closed_port(monkeypatch):
    # Celery read its configuration once; point the loaded configuration at a port where nothing listens.
    for variable in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", CLOSED_PORT_BROKER)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", CLOSED_PORT_BROKER)


@pytest.mark.redis
def test_ready_with_the_real_postgresql_and_redis(client):
    redis_url = reachable_redis_url()
    assert celery_app.conf.broker_url == redis_url
    assert connection.vendor == "postgresql"

    assert get_readyz(client) == (200, {"db": "ok", "broker": "ok"})


def test_not_ready_when_the_broker_is_on_a_closed_port(client, broker_on_a_closed_port):
    assert get_readyz(client) == (503, {"db": "ok", "broker": "down"})
    assert client.get("/healthz").status_code == 200  # alive: logins and record reads need no broker


def test_not_ready_when_the_database_does_not_answer(client):
    def refuse(execute, sql, params, many, context):
        raise DatabaseError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        status, body = get_readyz(client)

    assert (status, body) == (503, {"db": "down", "broker": "ok"})


def test_readyz_answers_plain_http_probes_without_a_login(settings, broker_on_a_closed_port):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    assert client.get("/readyz").status_code == 503  # answered, not redirected to HTTPS or to the login
    assert client.get("/metrics").status_code == client.get("/metrix").status_code == 301  # like any path
    assert client.post("/readyz").status_code in (403, 405)
