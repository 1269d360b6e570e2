"""The embedded PostgreSQL of development and local tests: pgserver's wheel, its data under var/ (docs/database.md).

The settings call `embedded_database_url` only when DATABASE_URL is unset. Every process that loads the settings
then holds a handle on one server per data directory, shared with the others through a unix socket inside that
directory; pgserver keeps the handles as a list of process ids there, and the last process to give its handle
back at exit stops the server. Forked children (Celery's pool) share their parent's handle. A process that ends
without running its exit hooks (killed, or SIGTERM's default action) cannot give its handle back: a watchdog
process started with the server (this file run as a script) stops the server once no holder is left.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "prahari"
USER = "postgres"  # trust authentication on the socket only: the server listens on no TCP address
HANDLES = ".handle_pids.json"  # pgserver's list of the processes holding a handle, in the data directory
WATCHDOG_PID = ".prahari-watchdog.pid"
WATCH_SECONDS = 1.0
STOP_SECONDS = 60.0

_registered: set[Path] = set()


def embedded_database_url(var_dir: Path) -> str:
    """Start the PostgreSQL server whose data is `var_dir`/postgres (initialising it the first time), or join
    the one already running there, and return the URL of its `prahari` database, created if missing.

    Side effects: this process holds a handle on the server until it exits; a watchdog process runs while
    the server does. Raises whatever pgserver raises when the server cannot start (its log: pgdata/log).
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    server = _server(var_dir / "postgres")
    info = server.get_postmaster_info()
    _database_ensure(info.socket_dir, info.port)
    return f"postgres://{USER}@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE_NAME}"


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset (root, containers): /tmp is fine.
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def _server(pgdata: Path):
    server = _pgserver().get_server(pgdata, cleanup_mode="stop")
    if server.pgdata not in _registered:
        _registered.add(server.pgdata)
        # Registered after pgserver's own exit hook, so it runs first: the list holds only live processes
        # when pgserver decides whether this one is the last.
        atexit.register(_holders_live_locked, server)
        _watchdog_ensure(server)
    return server


def _running(pid: int, *, named: str | None = None) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        if named is not None and not any(named in part for part in process.cmdline()):
            return False  # the id now belongs to another program
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _holders_live(pgdata: Path) -> list[int]:
    """Drop from pgserver's list of handles the processes that ended without giving theirs back; return the
    others. Call it holding pgserver's lock."""
    from pgserver.utils import DiskList

    handles = DiskList(pgdata / HANDLES)
    pids = handles.get()
    live = [pid for pid in pids if _running(pid)]
    if live != pids:
        handles.put(live)
    return live


def _holders_live_locked(server) -> None:
    with server._lock:
        _holders_live(server.pgdata)


def _watchdog_ensure(server) -> None:
    """Start the watchdog of `server` unless one runs: detached from this process's session, so that what
    stops this process (Ctrl-C, honcho) leaves it running."""
    pid_file = server.pgdata / WATCHDOG_PID
    with server._lock:
        with contextlib.suppress(FileNotFoundError, ValueError):
            if _running(int(pid_file.read_text()), named=Path(__file__).name):
                return
        watchdog = subprocess.Popen(  # noqa: S603 (this interpreter and this file)
            [sys.executable, __file__, str(server.pgdata)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pid_file.write_text(str(watchdog.pid))


def watch(pgdata: Path) -> None:
    """Every WATCH_SECONDS, stop the server of `pgdata` (fast shutdown) once no process holding a handle runs;
    return when it is stopped, by this or by its last process."""
    lock = _pgserver().PostgresServer._lock
    from pgserver.utils import PostmasterInfo

    while True:
        time.sleep(WATCH_SECONDS)
        with lock:
            info = PostmasterInfo.read_from_pgdata(pgdata)
            if info is not None and _running(info.pid):
                if _holders_live(pgdata):
                    continue
                info.process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
                deadline = time.monotonic() + STOP_SECONDS
                while _running(info.pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
            # Still under the lock: a process starting the server again from now on starts a new watchdog.
            pid_file = pgdata / WATCHDOG_PID
            with contextlib.suppress(FileNotFoundError, ValueError):
                if int(pid_file.read_text()) == os.getpid():
                    pid_file.unlink()
            return


def _database_ensure(socket_dir: Path, port: int) -> None:
    """Create the `prahari` database on first use (a concurrent creator's success is as good)."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(host=str(socket_dir), port=port, user=USER, dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            return
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


if __name__ == "__main__":  # the watchdog: python portal/embedded_postgres.py PGDATA
    del sys.path[0]  # portal/ itself: its modules (celery.py) must not shadow the libraries'
    watch(Path(sys.argv[1]))
