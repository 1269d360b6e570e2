"""/metrics: served to the configured addresses or the bearer token; anyone else gets the site's 404."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST

from portal.settings.observability import metrics_multiproc_dir, metrics_token
from tests.portal.metrics_scrape import TOKEN, scrape

pytestmark = pytest.mark.django_db

ALLOWED = ip_network("192.0.2.0/24")
PROXY = "10.0.0.1"


@pytest.fixture
def configured(settings):
    settings.PRAHARI_METRICS_TOKEN = TOKEN
    settings.PRAHARI_METRICS_ALLOWED_IPS = (ALLOWED,)
    settings.PRAHARI_METRICS_MULTIPROC_DIR = None
    settings.TRUSTED_PROXIES = (ip_network(f"{PROXY}/32"),)
    return settings


def comparable(response) -> tuple:
    """Status, body and every header but the per-request id."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")
    return response.status_code, response.content, headers


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"HTTP_AUTHORIZATION": f"Bearer {TOKEN[:-1]}x"}, id="wrong token"),
        pytest.param({"HTTP_AUTHORIZATION": f"Bearer {TOKEN[:-1]}"}, id="token cut short"),
        pytest.param({"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}, id="token in another scheme"),
        pytest.param({"REMOTE_ADDR": "198.51.100.7"}, id="address not allowed"),
        pytest.param({"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "192.0.2.7"}, id="forged forwarded-for"),
        pytest.param({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, id="proxied, not allowed"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_refused_scrapes_get_the_same_404_as_a_path_that_does_not_exist(configured, request_kwargs, method):
    client = Client(enforce_csrf_checks=True)
    refused = getattr(client, method)("/metrics", **request_kwargs)
    unknown = getattr(client, method)("/metrix", **request_kwargs)

    assert refused.status_code == 404
    assert comparable(refused) == comparable(unknown)
    assert b"prahari_" not in refused.content


def test_nobody_may_scrape_when_neither_a_token_nor_addresses_are_configured(settings):
    settings.PRAHARI_METRICS_TOKEN = ""
    settings.PRAHARI_METRICS_ALLOWED_IPS = ()
    for kwargs in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"REMOTE_ADDR": "127.0.0.1"}):
        assert Client().get("/metrics", **kwargs).status_code == 404


def test_the_bearer_token_is_served_the_metrics(configured):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-cache" in response["Cache-Control"]
    assert b"# TYPE prahari_logins_total counter" in response.content


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"REMOTE_ADDR": "192.0.2.7"}, id="allowed address"),
        pytest.param(
            {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "192.0.2.7"}, id="allowed, through a trusted proxy"
        ),
    ],
)
def test_an_allowed_address_is_served_the_metrics(configured, request_kwargs):
    configured.PRAHARI_METRICS_TOKEN = ""
    samples = scrape(Client(**request_kwargs))

    assert ("prahari_database_up", ()) in samples


def test_an_allowed_scraper_may_only_read(configured):
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405


def test_a_short_token_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("PRAHARI_METRICS_TOKEN", "short-token")
    with pytest.raises(ImproperlyConfigured, match="too short"):
        metrics_token()
    monkeypatch.setenv("PRAHARI_METRICS_TOKEN", TOKEN)
    assert metrics_token() == TOKEN


def test_a_multiprocess_directory_that_does_not_exist_is_refused_at_start(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="not a directory"):
        metrics_multiproc_dir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics_multiproc_dir() == tmp_path
