"""The web processes' statement timeout: no request holds a web worker (and its database session) past it.

`portal/wsgi.py` and `portal/asgi.py` switch it on, so gunicorn's and runserver's processes have it;
Celery workers, beat and management commands never import them and keep PostgreSQL's default (no
limit: a governance job may run for minutes). Each new database connection of a web process sets
`statement_timeout` for its session. A statement cut by it raises QueryCanceled, an OperationalError:
the request answers the 503 page (`portal.views.server_error`).

Through a transaction-mode pooler (PRAHARI_DB_POOLER=transaction) a session setting would stay on
whichever server connection ran it and reach other clients, and be missing from the next transaction
of ours: the timeout is then off here, and is set on the pooler or on the web's database role instead
(docs/operations.md#faults).
"""

from __future__ import annotations

from django.conf import settings
from django.db.backends.signals import connection_created

DISPATCH_UID = "prahari-web-statement-timeout"


def statement_timeout_ms() -> int:
    """The timeout this process's new connections get, in milliseconds; 0 when it is off."""
    if settings.PRAHARI_DB_POOLER != "none":
        return 0
    return max(settings.PRAHARI_WEB_STATEMENT_TIMEOUT_MS, 0)


def _session_timeout_set(sender, connection, **kwargs) -> None:
    milliseconds = statement_timeout_ms()
    if milliseconds and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{milliseconds}ms"])


def statement_timeout_enable() -> None:
    """Give every database connection this process opens from now on the web's statement timeout."""
    connection_created.connect(_session_timeout_set, dispatch_uid=DISPATCH_UID)


def statement_timeout_disable() -> None:
    connection_created.disconnect(dispatch_uid=DISPATCH_UID)
