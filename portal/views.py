"""Operational endpoints, and the page for a refusal (403)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app

log = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "down"; the detail goes to the log, not the response
        log.exception("healthz: database check failed")
        return False


def _broker_ok() -> bool:
    try:
        # Bound every socket operation: a broker that accepts but never answers must read as "down".
        options = {"socket_connect_timeout": 2, "socket_timeout": 2}
        with celery_app.connection_for_write(transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True
    except Exception:
        log.warning("healthz: broker unreachable", exc_info=True)
        return False


@never_cache
@login_not_required
@require_GET
def healthz(request):
    """200 with {"db": "ok", "broker": "ok"|"down"}; 503 when the database (the source of truth) is down."""
    db_ok = _database_ok()
    body = {"db": "ok" if db_ok else "down", "broker": "ok" if _broker_ok() else "down"}
    return JsonResponse(body, status=200 if db_ok else 503)


def permission_denied(request, exception=None):
    """The page for a refusal (handler403): the portal's look, and who may open what was refused. The job
    schedules (django-celery-beat's pages in the console) belong to the operators, the set-up accounts."""
    schedules = request.path.startswith(reverse("admin:index") + "django_celery_beat/")
    return render(request, "403.html", {"schedules": schedules, "demo": settings.DEBUG}, status=403)
