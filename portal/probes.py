"""Whether the database and the broker answer, within short timeouts: for /healthz, /readyz and /metrics.

A failure is "down"; its detail goes to the log, never into a response.
"""

from __future__ import annotations

import logging

from django.db import connection

from portal.celery import app as celery_app

log = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    """True when the database answers `SELECT 1` (a new connection waits at most DATABASES' connect_timeout)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "down"; the detail goes to the log, not the response
        log.exception("database check failed")
        return False


def broker_ok() -> bool:
    """True when a connection to the Celery broker opens within BROKER_TIMEOUT_SECONDS."""
    try:
        # Bound every socket operation: a broker that accepts but never answers must read as "down".
        timeout = BROKER_TIMEOUT_SECONDS
        options = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
        with celery_app.connection_for_write(transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
        return True
    except Exception:
        log.warning("broker unreachable", exc_info=True)
        return False
