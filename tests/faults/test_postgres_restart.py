"""PostgreSQL restarted while requests are in flight: they answer the 503 page with Retry-After and leave
nothing half-written; the requests after it succeed, from the same web process.

The web is a real gunicorn process on a PostgreSQL cluster of the test's own, loaded with a copy of the test
database (the signed-in worker's session included). A request is held in flight for sure: another session
keeps the access log locked, so the look-up waits inside its transaction; then PostgreSQL stops (its fast
shutdown ends every session) and starts again.
"""

from __future__ import annotations

import subprocess
import threading

import pytest
import requests
from django.db import connection
from django.test import Client

from records.models import AccessEvent
from tests.conftest import sign_in
from tests.faults.services import postgres_bindir, wait_until
from tests.faults.snapshot import fingerprint
from tests.faults.web import web_start
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _copy_test_database(own_postgres) -> None:
    """The test database (schema and rows) into a database `prahari` of the test's own cluster."""
    with own_postgres.connect() as admin:
        admin.autocommit = True
        admin.execute("CREATE DATABASE prahari")
    db = connection.settings_dict
    dump = subprocess.run(
        [str(postgres_bindir() / "pg_dump"), "--no-owner", "--no-privileges", "-h", db["HOST"] or "127.0.0.1",
         "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres", db["NAME"]],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    load = subprocess.run(
        [str(postgres_bindir() / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
         str(own_postgres.port), "-U", "postgres", "-d", "prahari"],
        input=dump.stdout, capture_output=True, timeout=120,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr.decode(errors="replace")


def _in_flight(own_postgres) -> bool:
    with own_postgres.connect("prahari") as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = 'prahari' AND wait_event_type = 'Lock'"
        ).fetchone()
    return row[0] > 0


def _state(own_postgres) -> dict:
    with own_postgres.connect("prahari") as conn, conn.cursor() as cursor:
        return fingerprint(cursor)


def test_requests_in_flight_get_503_and_the_next_ones_succeed(world, records, own_postgres, tmp_path):  # noqa: F811
    client = Client()
    sign_in(client, world.worker)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    _copy_test_database(own_postgres)
    web = web_start(
        tmp_path=tmp_path,
        env={"DATABASE_URL": own_postgres.url("prahari"), "REDIS_URL": None, "PRAHARI_VAR_DIR": str(tmp_path / "var")},
    )
    browser = requests.Session()
    for name, value in cookies.items():
        browser.cookies.set(name, value)
    page = f"{web.base}/records/{records.own.reference_id}/?purpose=due_dose"
    try:
        first = browser.get(page, timeout=60)
        assert first.status_code == 200 and records.own.name in first.text, web.output()[-3000:]
        before = _state(own_postgres)

        answers: list[requests.Response] = []
        holder = own_postgres.connect("prahari")
        holder.execute(f'LOCK TABLE "{AccessEvent._meta.db_table}" IN SHARE MODE')  # appends wait
        threads = [threading.Thread(target=lambda: answers.append(browser.get(page, timeout=60))) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_until(lambda: _in_flight(own_postgres), what="a look-up waiting inside its transaction")
        own_postgres.stop()  # fast shutdown: the sessions end, their transactions roll back
        for thread in threads:
            thread.join(timeout=60)
        holder.close()

        assert [a.status_code for a in answers] == [503, 503], web.output()[-3000:]
        assert all(a.headers.get("Retry-After") == "30" for a in answers)
        down = browser.get(page, timeout=60)  # while PostgreSQL is down
        assert down.status_code == 503 and down.headers.get("Retry-After") == "30"
        assert "could not reach its database" in down.text

        own_postgres.start()
        assert _state(own_postgres) == before, "a request cut by the restart left something behind"
        after = browser.get(page, timeout=60)  # the same gunicorn process, never restarted
        assert after.status_code == 200 and records.own.name in after.text, web.output()[-3000:]
        assert web.process.poll() is None
        with own_postgres.connect("prahari") as conn:
            logged = conn.execute(f'SELECT COUNT(*) FROM "{AccessEvent._meta.db_table}"').fetchone()[0]
        assert logged == before[AccessEvent._meta.db_table][0] + 1, "the look-up after the restart is logged"
    finally:
        web.stop()
        print(f"--- gunicorn ---\n{web.output()[-4000:]}")
