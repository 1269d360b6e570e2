"""`older_writers_gone` counts only the writers of this database: pg_locks lists every database's locks, and a
copy of this database (made with it as the template) has the same relation oids, so a writer there used to
make the jobs wait for nothing and give up their run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psutil
import psycopg
import pytest
from django.db import connection

from governance.watermarks import older_writers_gone
from records.models import AccessEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(dbname: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, dbname=dbname, user=db["USER"],
        password=db.get("PASSWORD") or None,
    )  # fmt: skip


def _end_this_process_other_sessions(admin: psycopg.Connection, name: str) -> None:
    """End the sessions this test process still holds on `name` in other threads (a browser test's live
    server keeps one); Django opens a new one at their next request. Nobody else's session is touched."""
    ports = [c.laddr.port for c in psutil.Process().net_connections(kind="tcp") if c.raddr]
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid() AND client_port = ANY(%s)",
        [name, ports],
    )


@pytest.fixture
def copy_of_this_database() -> Iterator[str]:
    """A database made from the test database as its template: the same relation oids."""
    name = connection.settings_dict["NAME"]
    copy = f"{name}_copy_{uuid.uuid4().hex[:8]}"
    connection.close()  # CREATE DATABASE … TEMPLATE needs the template without sessions
    with _connect("postgres") as admin:
        admin.autocommit = True
        _end_this_process_other_sessions(admin, name)
        for attempt in range(50):  # a terminated session takes a moment to leave
            try:
                admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    yield copy
    with _connect("postgres") as admin:
        admin.autocommit = True
        admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def _writer(dbname: str) -> psycopg.Connection:
    """A transaction holding a write lock (RowExclusiveLock) on the access log, as an insert would."""
    writer = _connect(dbname)
    writer.execute(f'LOCK TABLE "{AccessEvent._meta.db_table}" IN ROW EXCLUSIVE MODE')
    return writer


def _gone_now() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        read_at = cursor.fetchone()[0]
    return older_writers_gone(read_at)


def test_a_writer_in_another_database_with_the_same_oids_is_not_waited_for(settings, copy_of_this_database):
    settings.PRAHARI_ANOMALY_WRITER_WAIT_SECONDS = 0  # one look: True only if no writer counts
    writer = _writer(copy_of_this_database)
    try:
        assert _gone_now() is True
    finally:
        writer.rollback()
        writer.close()


def test_a_writer_in_this_database_is_waited_for(settings):
    settings.PRAHARI_ANOMALY_WRITER_WAIT_SECONDS = 0
    writer = _writer(connection.settings_dict["NAME"])
    try:
        assert _gone_now() is False
    finally:
        writer.rollback()
        writer.close()
    assert _gone_now() is True
