"""/metrics: Prometheus text for configured addresses or a bearer token; a 404 like any unknown path otherwise.

Who may scrape (`metrics_allowed`): a client whose address (accounts.request_info.client_ip, so proxies are
considered as everywhere else) is in PRAHARI_METRICS_ALLOWED_IPS, or a request with `Authorization: Bearer
<PRAHARI_METRICS_TOKEN>` (compared in constant time). With neither configured nobody may.

What is served (`scrape_registry`):
- counters and histograms counted where things happen: sign-ins, locks and alerts (accounts/metrics.py),
  record look-ups (records/metrics.py), governance job runs (governance/metrics.py), request latency (here);
- gauges computed at the scrape (`ScrapeTimeCollector`): database and broker reachability, outbox backlog.

Several processes (gunicorn workers, Celery workers) each count in their own memory; with
PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps every process's counts in a file of that directory and
each scrape sums the files (`MultiProcessCollector`), so no count is lost with a process or counted twice.
Without it, the scrape shows the answering process's counts only (one process: `make run`).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Min
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.models import Notification
from accounts.request_info import client_ip, parse_address
from portal.probes import broker_ok, database_ok

REQUEST_SECONDS = Histogram(
    "prahari_http_request_duration_seconds",
    "Time to answer a request, by route name (never the path; `unmatched` when no route matched) and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_observed(*, route: str, method: str, seconds: float) -> None:
    """Observe one answered request (`route` from portal.logs.route_label: a route name, never a path)."""
    REQUEST_SECONDS.labels(route, method if method in METHODS else "other").observe(seconds)


# --- Who may scrape ---------------------------------------------------------------------------------------


def _token_given(request) -> bool:
    token = settings.PRAHARI_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _address_allowed(request) -> bool:
    address = parse_address(client_ip(request))
    return address is not None and any(address in network for network in settings.PRAHARI_METRICS_ALLOWED_IPS)


def metrics_allowed(request) -> bool:
    """Whether this request may read the metrics: the bearer token, or an allowed client address."""
    return _token_given(request) or _address_allowed(request)


# --- What is served ---------------------------------------------------------------------------------------


class ScrapeTimeCollector:
    """Gauges read when scraped, from the database and the broker themselves, so every process agrees."""

    def collect(self):
        db_up, broker_up = int(database_ok()), int(broker_ok())
        yield GaugeMetricFamily("prahari_database_up", "1 when the database answered this scrape, else 0.", db_up)
        yield GaugeMetricFamily(
            "prahari_broker_up", "1 when the Celery broker accepted a connection at this scrape, else 0.", broker_up
        )
        if not db_up:
            return
        backlog = Notification.objects.filter(state=Notification.State.PENDING).aggregate(
            pending=Count("pk"), oldest=Min("created_at")
        )
        age = (timezone.now() - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0.0
        yield GaugeMetricFamily("prahari_outbox_pending", "Outbox messages not yet sent.", backlog["pending"])
        yield GaugeMetricFamily(
            "prahari_outbox_oldest_pending_age_seconds", "Age of the oldest unsent outbox message (0: none).", age
        )


class _ThisProcess:
    """The metrics of this process alone (no PROMETHEUS_MULTIPROC_DIR): prometheus-client's default registry."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's files (multi-process mode) or this process, plus the
    scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.PRAHARI_METRICS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=str(settings.PRAHARI_METRICS_MULTIPROC_DIR))
    else:
        registry.register(_ThisProcess())
    registry.register(ScrapeTimeCollector())
    return registry


@csrf_exempt  # a POST must get the 404 of a path that does not exist, not the CSRF refusal; nothing changes here
@login_not_required
def metrics(request):
    """Prometheus text exposition for an allowed scraper; the site's plain 404 for anyone else (the endpoint
    is not revealed: no header or status sets it apart from a path that does not exist)."""
    if not metrics_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
    add_never_cache_headers(response)
    return response
