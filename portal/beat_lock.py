"""The beat lock: a PostgreSQL advisory lock held by the sending beat for as long as it runs (portal/beat.py).

The lock is session-level and lives on a connection of its own (never Django's, which Django may close and
reopen), so PostgreSQL frees it the moment that session ends: the holder stops, crashes or is killed (the
kernel closes its socket), or its host vanishes (the server's TCP keepalives, set below for this session
only, end the session within about a minute and a half).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

import psycopg
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

LOCK_NAME = "prahari.beat"
# The server probes an idle lock session after 30 s, every 10 s, and ends it after 3 unanswered probes.
SERVER_KEEPALIVES = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
CONNECT_TIMEOUT_SECONDS = 5
TCP_USER_TIMEOUT_MS = 30_000  # a query on a dead network fails after this instead of the kernel's many minutes


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for `name` (derived as governance/jobs.py derives the jobs' keys)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_connection_params() -> dict:
    """psycopg.connect() arguments for the lock's own session: the default database's, or the database of
    PRAHARI_BEAT_LOCK_DATABASE_URL (a direct one where DATABASE_URL goes through a transaction pooler)."""
    wrapper = connections["default"]
    settings_dict = {**wrapper.settings_dict, **(settings.PRAHARI_BEAT_LOCK_DATABASE or {})}
    params = type(wrapper)(settings_dict, alias="beat-lock").get_connection_params()
    params["options"] = f"{params.get('options') or ''} {SERVER_KEEPALIVES}".strip()
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params.setdefault("application_name", "prahari-beat-lock")
    params.update(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
    params["tcp_user_timeout"] = TCP_USER_TIMEOUT_MS
    params["autocommit"] = True
    return params


class BeatLock:
    """A session-level advisory lock on a connection of its own; `acquire` may be called again and again."""

    def __init__(self, *, params: dict, name: str = LOCK_NAME) -> None:
        self.key = lock_key(name)
        self._params = params
        self._conn: psycopg.Connection | None = None
        self.held = False

    def acquire(self) -> bool:
        """Try once: True when this session holds the lock (it already did, or it took it now).

        When it already held it, a round trip proves the session (and so the lock) is still there. A lost
        connection or an unreachable database means False: the lock is not ours, or no longer.
        """
        try:
            if self._conn is None:
                self._conn = psycopg.connect(**self._params)
            if self.held:
                self._conn.execute("SELECT 1")
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
                self.held = bool(row[0])
        except psycopg.Error as exc:
            log.warning("beat lock: the database did not answer (%s); this beat sends nothing", type(exc).__name__)
            self.release()
            return False
        return self.held

    def backend_pid(self) -> int | None:
        """The PostgreSQL process id of the lock's session, or None without one."""
        return self._conn.info.backend_pid if self._conn is not None else None

    def release(self) -> None:
        """Unlock (at once, so a standby may take it at its next try), then end the lock's session."""
        conn, held, self._conn, self.held = self._conn, self.held, None, False
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error):  # a session already gone took the lock with it
            if held:
                conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        with contextlib.suppress(psycopg.Error):
            conn.close()
