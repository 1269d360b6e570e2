"""Response headers that Django 5.2 does not set by itself; the request's id, log line and latency."""

import logging
import time

from django.conf import settings

from portal.logs import REQUEST_ID_HEADER, LogContext, context_enter, context_exit, request_id_for, route_label
from portal.metrics import request_observed

request_log = logging.getLogger("prahari.request")


class ContentSecurityPolicyMiddleware:
    """Add the Content-Security-Policy of settings.CONTENT_SECURITY_POLICY to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class RequestObservationMiddleware:
    """First of MIDDLEWARE: give the request its id (portal/logs.py) for every log line written while it is
    answered, then write one line for it (method, route, status, duration; never the path) and observe its
    latency (portal/metrics.py). The response carries the id in X-Request-ID.

    Probes and scrapes (/healthz, /readyz, /metrics) are logged at DEBUG: a load balancer asks every few seconds.
    """

    QUIET_ROUTES = frozenset({"healthz", "readyz", "metrics"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id = request_id_for(request)  # also for Django's own lines after this one
        started = time.perf_counter()
        token = context_enter(LogContext(request_id=request_id, request=request))
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            route = route_label(request)
            request_observed(route=route, method=request.method, seconds=seconds)
            level = logging.DEBUG if route in self.QUIET_ROUTES else logging.INFO
            fields = {"method": request.method, "route": route, "status": response.status_code}
            request_log.log(
                level,
                "%s %s %s %.1fms",
                *fields.values(),
                seconds * 1000,
                extra={**fields, "duration_ms": round(seconds * 1000, 1)},
            )
        finally:
            context_exit(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
