"""Operational endpoints (/healthz, /readyz; /metrics is portal/metrics.py's), the page for a refusal (403) and
for a failure (500, or 503 when the database is away)."""

from __future__ import annotations

import sys

import psycopg
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.probes import broker_ok, database_ok


@never_cache
@login_not_required
@require_GET
def healthz(request):
    """200 with {"db": "ok", "broker": "ok"|"down"}; 503 when the database (the source of truth) is down."""
    db_ok = database_ok()
    body = {"db": "ok" if db_ok else "down", "broker": "ok" if broker_ok() else "down"}
    return JsonResponse(body, status=200 if db_ok else 503)


@never_cache
@login_not_required
@require_GET
def readyz(request):
    """Readiness: 200 with {"db": "ok", "broker": "ok"} when both answer, else 503 with the one that is "down".

    Stricter than /healthz, which stays 200 while only the broker is down (logins and record reads need
    no broker; messages wait in the outbox): docs/operations.md says which a load balancer should use.
    """
    body = {"db": "ok" if database_ok() else "down", "broker": "ok" if broker_ok() else "down"}
    return JsonResponse(body, status=200 if body == {"db": "ok", "broker": "ok"} else 503)


def permission_denied(request, exception=None):
    """The page for a refusal (handler403): the portal's look, and who may open what was refused. The job
    schedules (django-celery-beat's pages in the console) belong to the operators, the set-up accounts."""
    schedules = request.path.startswith(reverse("admin:index") + "django_celery_beat/")
    return render(request, "403.html", {"schedules": schedules, "demo": settings.DEBUG}, status=403)


RETRY_AFTER_SECONDS = 30


def server_error(request):
    """The page for an unhandled error (handler500). A database that is away (restarted, unreachable) or a
    statement cut by the web's statement timeout (portal/web_db.py) answers 503 with Retry-After: the request
    changed nothing (its transaction was rolled back), and the next one may succeed. Anything else is a 500.

    Rendered without the request's context processors: they may need the database that just failed.
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        timed_out = isinstance(error.__cause__, psycopg.errors.QueryCanceled)
        page = loader.get_template("503.html").render({"timed_out": timed_out})
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(loader.get_template("500.html").render({}), status=500)
