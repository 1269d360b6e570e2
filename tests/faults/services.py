"""A Redis and a PostgreSQL cluster of a test's own, to kill and restart without touching the shared services.

Redis: `redis-server --port <free> --save "" --daemonize no` as a subprocess. PostgreSQL: `initdb` into a
temporary directory and `postgres` on a free port (as the `postgres` OS user when the tests run as root:
PostgreSQL refuses to run as root), listening on 127.0.0.1 only, trust authentication.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.integration import skip_or_fail

START_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, what: str, timeout: float = START_TIMEOUT_SECONDS, output=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout:.0f}s.\n{output()}", pytrace=False)
        time.sleep(POLL_SECONDS)


@dataclass
class OwnRedis:
    """A redis-server of the test's own; `kill()` ends it with SIGKILL, `start()` starts it again on its port."""

    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2, socket_timeout=2)

    def answers(self) -> bool:
        import redis

        client = self.client()
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(self.answers, what=f"redis-server on port {self.port} answering PING", output=self.output)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"


def postgres_bindir() -> Path:
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found = ""
    for candidate in (found, "/usr/lib/postgresql/15/bin"):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    skip_or_fail("PostgreSQL's initdb is not installed (pg_config --bindir names none)")
    raise AssertionError  # unreachable


def _as_postgres_user() -> list[str]:
    """The prefix that runs a command as the `postgres` OS user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        skip_or_fail("tests run as root and there is no `postgres` OS user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of the test's own, in `data_dir`, on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=3,
                               **kwargs)  # fmt: skip

    def answers(self) -> bool:
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        result = subprocess.run(
            [*_as_postgres_user(), str(postgres_bindir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
             "--auth", "trust", "--no-sync", "-E", "UTF8", "--locale", "C"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"initdb failed:\n{result.stdout}\n{result.stderr}", pytrace=False)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*_as_postgres_user(), str(postgres_bindir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "max_connections=40", "-c", "shared_buffers=32MB"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(self.answers, what=f"PostgreSQL on port {self.port} accepting connections", output=self.output)

    def stop(self, *, mode: signal.Signals = signal.SIGINT) -> None:
        """SIGINT: PostgreSQL's fast shutdown (every session ended, their transactions rolled back)."""
        if self.process is not None and self.process.poll() is None:
            # runuser forwards the signal to postgres; the postmaster ends its children and exits.
            os.killpg(self.process.pid, mode)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"
