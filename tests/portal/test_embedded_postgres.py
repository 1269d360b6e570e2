"""Without DATABASE_URL every process reaches one embedded PostgreSQL under PRAHARI_VAR_DIR; the last one out stops it.

Each test runs `manage.py shell` processes on a var directory of its own, so its server is its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from portal.embedded_postgres import WATCH_SECONDS

ROOT = Path(__file__).resolve().parents[2]
CONNECT = (
    "from django.db import connection; connection.ensure_connection();"
    "print(connection.settings_dict['HOST'], connection.settings_dict['NAME'], connection.pg_version, flush=True);"
)
HOLD = CONNECT + "import sys; sys.stdin.read()"  # holds its handle until its input closes

pytestmark = pytest.mark.slow


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRAHARI_"))}
    env.pop("DATABASE_URL", None)
    env.update(DJANGO_DEBUG="1", PRAHARI_VAR_DIR=str(var_dir), **extra)
    return env


def _shell(var_dir: Path, code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=_env(var_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _holder(var_dir: Path) -> tuple[subprocess.Popen, str]:
    """A process connected to the embedded server, holding its handle; returns it and its first line."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", HOLD],
        cwd=ROOT,
        env=_env(var_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return process, line


def _postmaster(var_dir: Path) -> psutil.Process | None:
    """The server of `var_dir` if it runs (its postmaster.pid names a live process), else None."""
    pid_file = var_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        return psutil.Process(int(pid_file.read_text().split()[0]))
    except psutil.NoSuchProcess:
        return None


def _ended(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _handles(var_dir: Path) -> list[int]:
    return json.loads((var_dir / "postgres" / ".handle_pids.json").read_text())


def test_a_command_starts_the_server_under_var_and_stops_it_when_it_ends(tmp_path):
    result = _shell(tmp_path, CONNECT)
    assert result.returncode == 0, result.stderr
    host, name, version = result.stdout.split()
    assert Path(host) == (tmp_path / "postgres").resolve() and name == "prahari" and int(version) >= 160000
    assert (tmp_path / "postgres" / "PG_VERSION").exists()
    assert _postmaster(tmp_path) is None and _handles(tmp_path) == []


def test_processes_share_one_server_until_the_last_one_ends(tmp_path):
    first, line = _holder(tmp_path)
    server = _postmaster(tmp_path)
    assert server is not None
    second = _shell(tmp_path, CONNECT)
    assert second.returncode == 0, second.stderr
    assert second.stdout == line  # the same socket and database
    assert _postmaster(tmp_path).pid == server.pid  # still running: the first process holds it
    first.communicate("", timeout=60)
    assert first.returncode == 0
    assert _postmaster(tmp_path) is None and _ended(server)


def test_a_killed_holder_is_dropped_so_the_last_one_leaving_still_stops_the_server(tmp_path):
    killed, _line = _holder(tmp_path)
    server = _postmaster(tmp_path)
    last, _line = _holder(tmp_path)
    killed.kill()  # no exit hook runs: its pid stays in the list of handles until someone drops it
    killed.wait(timeout=60)
    time.sleep(2 * WATCH_SECONDS)
    assert not _ended(server)  # the other holder still runs
    last.communicate("", timeout=60)
    assert last.returncode == 0
    assert _postmaster(tmp_path) is None and _ended(server) and _handles(tmp_path) == []  # at once, at its exit


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_the_watchdog_stops_the_server_when_its_last_holder_ends_without_exit_hooks(tmp_path, how):
    holder, _line = _holder(tmp_path)
    server = _postmaster(tmp_path)
    watchdog = psutil.Process(int((tmp_path / "postgres" / ".prahari-watchdog.pid").read_text()))
    assert watchdog.is_running() and os.getsid(watchdog.pid) != os.getsid(holder.pid)  # Ctrl-C does not reach it
    holder.send_signal(how)  # SIGTERM's default action skips exit hooks too
    assert holder.wait(timeout=60) == -how
    deadline = time.monotonic() + 10 * WATCH_SECONDS
    while not _ended(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ended(server) and _postmaster(tmp_path) is None
    watchdog.wait(timeout=10)  # and it leaves
    result = _shell(tmp_path, CONNECT)  # the next start works
    assert result.returncode == 0, result.stderr


def test_nothing_starts_when_database_url_is_set(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['HOST'])"
    result = _shell(tmp_path, code, DATABASE_URL="postgres://someone@db.invalid:5432/prahari")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "db.invalid"
    assert not (tmp_path / "postgres").exists()


def test_a_database_url_of_another_engine_is_refused(tmp_path):
    result = _shell(tmp_path, "pass", DATABASE_URL=f"sqlite:///{tmp_path / 'prahari.sqlite3'}")
    assert result.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in result.stderr
