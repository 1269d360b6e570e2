"""The beat lock (portal/beat.py): one holder at a time, freed when the holder's session ends, however it ends.

Each BeatLock has its own PostgreSQL session on the test database's server, as each beat process has.
Two real beat processes standing by for each other: tests/integration/test_beat_single.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from portal.beat_lock import BeatLock, lock_connection_params, lock_key
from tests.integration.conftest import database_url_for

WAIT_SECONDS = 30.0


@pytest.fixture
def lock_name() -> str:
    """A lock name of this test's own: tests running beside it (or a real beat) never hold it."""
    return f"prahari.beat.test.{uuid.uuid4().hex}"


@pytest.fixture
def locks(db, lock_name):
    """Make BeatLocks of `lock_name` on the test database's server; all released afterwards."""
    made: list[BeatLock] = []

    def make() -> BeatLock:
        lock = BeatLock(params=lock_connection_params(), name=lock_name)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.release()


def test_the_second_holder_stands_by_until_the_first_releases(locks):
    first, second = locks(), locks()

    assert first.acquire() is True
    assert second.acquire() is False
    assert second.acquire() is False, "trying again changes nothing while the first holds it"
    assert first.acquire() is True, "the holder keeps it across ticks"

    first.release()
    assert second.acquire() is True
    assert first.acquire() is False


def test_the_lock_is_freed_when_the_holders_connection_ends(locks):
    first, second = locks(), locks()
    assert first.acquire() is True
    assert second.acquire() is False

    with connection.cursor() as cursor:  # the server ends the holder's session, as on a lost connection
        cursor.execute("SELECT pg_terminate_backend(%s)", [first.backend_pid()])
        assert cursor.fetchone()[0] is True

    assert _eventually(second.acquire), "the lock was not freed with its session"
    assert first.acquire() is False, "the old holder must notice it lost the lock"


def test_the_lock_is_freed_when_the_holding_process_is_killed(locks, lock_name):
    """A process that takes the lock and is then killed (no clean-up of its own) frees it."""
    standby = locks()
    params = lock_connection_params()
    conninfo = psycopg.conninfo.make_conninfo(
        **{key: value for key, value in params.items() if isinstance(value, str | int) and key != "autocommit"}
    )
    holder_code = (
        "import time\n"
        "from portal.beat_lock import BeatLock\n"
        f"lock = BeatLock(params={{'conninfo': {conninfo!r}, 'autocommit': True}}, name={lock_name!r})\n"
        "print('held' if lock.acquire() else 'refused', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code], cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert standby.acquire() is False
        holder.kill()
        holder.wait(timeout=WAIT_SECONDS)
        assert _eventually(standby.acquire), "the killed holder's lock was not freed"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=WAIT_SECONDS)


def test_locks_of_different_names_do_not_exclude_each_other(db):
    one = BeatLock(params=lock_connection_params(), name="prahari.beat.test.one")
    other = BeatLock(params=lock_connection_params(), name="prahari.beat.test.other")
    try:
        assert one.acquire() and other.acquire()
        assert lock_key("prahari.beat.test.one") != lock_key("prahari.beat.test.other")
    finally:
        one.release()
        other.release()


def test_an_unreachable_database_means_not_held(caplog):
    lock = BeatLock(params={"host": "127.0.0.1", "port": 1, "dbname": "x", "connect_timeout": 2, "autocommit": True})
    assert lock.acquire() is False
    assert "the database did not answer" in caplog.text


def _eventually(condition, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_lock_database_of_its_own_when_the_default_goes_through_a_pooler(db, settings, lock_name):
    """PRAHARI_BEAT_LOCK_DATABASE_URL: the lock's session goes there (here: the server's `postgres` database)."""
    import dj_database_url

    url = database_url_for({**connection.settings_dict, "NAME": "postgres", "OPTIONS": {}})
    settings.PRAHARI_BEAT_LOCK_DATABASE = dj_database_url.parse(url)
    lock = BeatLock(params=lock_connection_params(), name=lock_name)
    try:
        assert lock.acquire() is True
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_stat_activity WHERE pid = %s", [lock.backend_pid()])
            assert cursor.fetchone() == ("postgres",)
    finally:
        lock.release()
