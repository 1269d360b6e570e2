"""The embedded PostgreSQL of development and local tests: pgserver's wheel, its data under var/ (docs/database.md).

The settings call `embedded_database_url` only when DATABASE_URL is unset. Every process that loads the settings
then holds a handle on one server per data directory, shared with the others through a unix socket inside that
directory; pgserver keeps the handles as a list of process ids there, and the last process to give its handle
back stops the server. Forked children (Celery's pool) share their parent's handle.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "prahari"
USER = "postgres"  # trust authentication on the socket only: the server listens on no TCP address

_registered: set[Path] = set()
_owner_pid: int | None = None


def embedded_database_url(var_dir: Path) -> str:
    """Start the PostgreSQL server whose data is `var_dir`/postgres (initialising it the first time), or join
    the one already running there, and return the URL of its `prahari` database, created if missing.

    Side effects: this process holds a handle on the server until it exits; SIGTERM, where nothing else
    handles it, gives the handle back before the process ends as it would have. Raises whatever pgserver
    raises when the server cannot start (its log is pgdata/log).
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    server = _server(var_dir / "postgres")
    info = server.get_postmaster_info()
    _database_ensure(info.socket_dir, info.port)
    return f"postgres://{USER}@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE_NAME}"


def _server(pgdata: Path):
    global _owner_pid
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset (root, containers): /tmp is fine.
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    if server.pgdata not in _registered:
        _registered.add(server.pgdata)
        _owner_pid = os.getpid()
        # Registered after pgserver's own exit hook, so it runs first: the list holds only live processes
        # when pgserver decides whether this one is the last.
        atexit.register(_exited_forget, server)
        _release_on_sigterm(server)
    return server


def _exited_forget(server) -> None:
    """Drop from pgserver's list of handles the processes that ended without giving theirs back (killed), so
    that the last live process still stops the server."""
    import psutil

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    with server._lock:
        handles = server.global_process_id_list
        pids = handles.get()
        live = [pid for pid in pids if running(pid)]
        if live != pids:
            handles.put(live)


def _release_on_sigterm(server) -> None:
    """Where SIGTERM still has its default action (runserver, manage.py commands), give the handle back first
    and then end as SIGTERM would: the default action skips atexit, and honcho stops web, worker and beat
    with SIGTERM. Celery and gunicorn install their own handlers, which exit through atexit anyway."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def release_then_end(signum, _frame) -> None:
        signal.signal(signum, signal.SIG_DFL)
        if os.getpid() == _owner_pid:  # not in a forked child: the parent holds the handle
            _exited_forget(server)
            server._cleanup()
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, release_then_end)


def _database_ensure(socket_dir: Path, port: int) -> None:
    """Create the `prahari` database on first use (a concurrent creator's success is as good)."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(host=str(socket_dir), port=port, user=USER, dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            return
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
