"""Reading /metrics as Prometheus would: a scraper client with the bearer token, and the samples it got."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "test-metrics-token-0123456789abcdefghij"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def scraper(settings) -> Client:
    """A client that may scrape (the token); this process's metrics only (no PROMETHEUS_MULTIPROC_DIR)."""
    settings.PRAHARI_METRICS_TOKEN = TOKEN
    settings.PRAHARI_METRICS_ALLOWED_IPS = ()
    settings.PRAHARI_METRICS_MULTIPROC_DIR = None
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample `name` with exactly these labels, or None when the scrape had none."""
    return samples.get((name, tuple(sorted(labels.items()))))


def grown(after: Samples, before: Samples, name: str, **labels: str) -> float:
    """How much the sample grew between two scrapes (absent counts as 0); fails when it is absent after."""
    now = value(after, name, **labels)
    assert now is not None, f"{name}{labels} is not in the scrape"
    return now - (value(before, name, **labels) or 0.0)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for (sample, labels) in samples if sample == name}
