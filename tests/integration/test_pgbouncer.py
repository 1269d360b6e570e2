"""The portal through PgBouncer in transaction mode (Debian 12's pgbouncer, 1.18), as PRAHARI_DB_POOLER=transaction
configures it: access-log appends from two connections, a record view through the real view, and the chains
checked, while one client connection's statements run in every server connection of the pool. Without the
setting, the failures docs/database.md names.

Each test starts its own pgbouncer on a free port in front of the test database (trust authentication, as the
server of DATABASE_URL uses here), points Django's connection at it, and stops it at teardown. A missing
pgbouncer skips them, or fails them with PRAHARI_REQUIRE_SERVICES=1 (`make chromium` installs it).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, ProgrammingError, connection

from records.audit import access_event_append
from records.models import AccessEvent, Dose
from records.verification import verify
from tests.conftest import sign_in
from tests.integration import skip_or_fail
from tests.records.conftest import make_record

pytestmark = pytest.mark.django_db(transaction=True)

SERVERS = 3  # the pool's server connections: each test opens them all before it starts
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
NOT_PREPARED = r'prepared statement "_pg3_\d+" does not exist'


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        skip_or_fail("pgbouncer is not installed (`make chromium` installs Debian's package)")
    return found


def pgbouncer_version(binary: str) -> tuple[int, int]:
    found = re.search(
        r"PgBouncer (\d+)\.(\d+)",
        subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout,
    )
    if found is None:
        pytest.fail(f"{binary} --version names no PgBouncer version", pytrace=False)
    return int(found[1]), int(found[2])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@dataclass
class Bouncer:
    port: int
    process: subprocess.Popen
    log_path: Path
    dbname: str
    user: str

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"

    def client(self, **kwargs) -> psycopg.Connection:
        """A plain psycopg connection through pgbouncer (Django's is pointed at it by `through`)."""
        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=self.dbname, user=self.user, **kwargs)

    def open_servers(self) -> set[int]:
        """Open all SERVERS server connections of the pool: as many clients, each holding a transaction at
        once, take one each. Returns their backend pids. With server_round_robin, the transactions that
        follow take the idle servers in turn, so two in a row never share one."""
        clients = [self.client() for _ in range(SERVERS)]
        try:
            pids = {c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in clients}  # each in its BEGIN
        finally:
            for c in clients:
                c.rollback()  # the transaction ends, and its server connection goes back to the pool idle
                c.close()
        assert len(pids) == SERVERS
        return pids

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        return self.process.returncode


def _config(tmp_path: Path, *, port: int, db: dict, version: tuple[int, int]) -> Path:
    user, password = db["USER"] or "postgres", str(db.get("PASSWORD") or "")
    (tmp_path / "users.txt").write_text(f"{quoted(user)} {quoted(password)}\n")
    target = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']}"
    lines = [
        "[databases]",
        f"{db['NAME']} = {target}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {tmp_path / 'users.txt'}",
        "pool_mode = transaction",
        f"default_pool_size = {SERVERS}",
        "max_client_conn = 20",
        "server_round_robin = 1",
    ]
    if version >= (1, 21):  # 1.18 refuses the key; from 1.24 on, keeping prepared statements is the default
        lines.append("max_prepared_statements = 0")  # a pooler that keeps none, as Debian 12's
    if os.geteuid() == 0:  # pgbouncer refuses to run as root; it reads its files first, then becomes this user
        lines.append(f"user = {'postgres' if _user_exists('postgres') else 'nobody'}")
    path = tmp_path / "pgbouncer.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def pgbouncer(tmp_path: Path, transactional_db) -> Iterator[Bouncer]:
    """A pgbouncer in transaction mode in front of the test database, on a free port; stopped at teardown."""
    binary, db, port = pgbouncer_binary(), connection.settings_dict, free_port()
    config = _config(tmp_path, port=port, db=db, version=pgbouncer_version(binary))
    log_path = tmp_path / "pgbouncer.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    bouncer = Bouncer(port=port, process=process, log_path=log_path, dbname=db["NAME"], user=db["USER"] or "postgres")
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited (code {process.returncode}):\n{bouncer.output()}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"pgbouncer did not listen within {START_TIMEOUT_SECONDS:.0f}s:\n{bouncer.output()}")
                time.sleep(0.1)
        yield bouncer
    finally:
        code = bouncer.stop()
        print(f"--- pgbouncer (exit code {code}) ---\n{bouncer.output()}")


@contextmanager
def through(bouncer: Bouncer, pooler: str) -> Iterator[None]:
    """Point Django's connections (this thread's and those threads open) at `bouncer`, with the DATABASES
    entry PRAHARI_DB_POOLER=`pooler` gives; put everything back afterwards."""
    db = connection.settings_dict  # the dict of settings.DATABASES: connections of new threads read it too
    changes = {"HOST": "127.0.0.1", "PORT": str(bouncer.port), **settings.DATABASE_POOLER_OPTIONS[pooler]}
    saved = {key: db[key] for key in changes}
    connection.close()
    db.update(changes)
    try:
        yield
    finally:
        connection.close()
        db.update(saved)


@pytest.fixture
def record(world):
    """A record of the worker's own facility, with a dose (as `records.own` of tests/records/conftest.py)."""
    own = make_record("10000000000001", world.facility, name="Sunita Yadav", id_number="123412345678")
    Dose.objects.create(
        beneficiary=own, vaccine="Covishield", dose_number=1, given_on=date(2021, 6, 1), facility=world.facility
    )
    return own


def append(actor, record) -> AccessEvent:
    return access_event_append(
        actor=actor, beneficiary=record, action="view", outcome="allowed", purpose="due_dose", ip_address="10.0.0.7"
    )


def through_port() -> int:
    """The port this thread's Django connection is connected to (pgbouncer's, not PostgreSQL's)."""
    connection.ensure_connection()
    return connection.connection.info.port


def backend_pids(n: int) -> list[int]:
    with connection.cursor() as cursor:
        pids = []
        for _ in range(n):
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
    return pids


def in_a_thread(work) -> object:
    """Run `work` on another thread, so with a Django connection of its own (closed at the end)."""
    result: dict[str, object] = {}

    def run():
        try:
            result["value"] = work()
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_appends_and_a_record_view_through_pgbouncer_in_transaction_mode(pgbouncer, world, record, client):
    with through(pgbouncer, "transaction"):
        servers = pgbouncer.open_servers()
        assert through_port() == pgbouncer.port
        assert set(backend_pids(SERVERS)) == servers  # one client connection, its statements in every server

        first = [append(world.worker, record) for _ in range(3)]

        def from_another_connection():
            assert through_port() == pgbouncer.port
            return [append(world.worker, record) for _ in range(3)]

        second = in_a_thread(from_another_connection)
        third = [append(world.worker, record) for _ in range(2)]  # its remembered head is stale: relocks

        sign_in(client, world.worker)
        response = client.get(f"/records/{record.reference_id}/?purpose=due_dose")
        assert response.status_code == 200
        body = response.content.decode()
        assert "XXXX XXXX 5678" in body and "123412345678" not in body and "Covishield" in body

        events = list(AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq"))
        assert [e.actor_seq for e in events] == list(range(1, 10))
        assert [e.pk for e in events[:8]] == [e.pk for e in first + second + third]
        assert (events[-1].action, events[-1].outcome, events[-1].beneficiary_id) == ("view", "allowed", record.pk)
        verdict = verify()  # Django's iterator() too: a client-side cursor with the setting
        assert (verdict.problem, verdict.checked) == (None, 9)
    assert (verify().problem, verify().checked) == (None, 9)  # and straight from PostgreSQL


def test_without_the_setting_a_prepared_append_fails_through_pgbouncer(pgbouncer, world, record):
    with through(pgbouncer, "none"):
        pgbouncer.open_servers()
        append(world.worker, record)  # inside its transaction: prepared and run in one server connection
        with pytest.raises(ProgrammingError, match=NOT_PREPARED):
            append(world.worker, record)  # prepared in one transaction, run in the next: another server
    assert list(AccessEvent.objects.values_list("actor_seq", flat=True)) == [1]
    assert verify().problem is None


def test_without_the_setting_the_chain_check_loses_its_cursor_through_pgbouncer(pgbouncer, world, record):
    append(world.worker, record)
    with through(pgbouncer, "none"):
        pgbouncer.open_servers()
        with pytest.raises(DatabaseError, match=r'(cursor|portal) "_django_curs_\w+" does not exist'):
            verify()
