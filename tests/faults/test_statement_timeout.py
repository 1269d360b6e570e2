"""The web's statement timeout (portal/web_db.py): a statement of a request that runs past it is cut, and the
request answers the 503 page; only web processes have it.

The slow statement is made slow for sure: another connection holds a lock on the accounts table, so the
request's first read of its user waits; the answer arrives while that lock is still held, so the request
was cut rather than served late.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import User
from portal.web_db import statement_timeout_disable, statement_timeout_enable
from tests.conftest import sign_in
from tests.integration.conftest import database_url_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_web_timeout(settings):
    """The web's timeout switched on in this process, at 300 ms, on a fresh connection."""
    settings.PRAHARI_WEB_STATEMENT_TIMEOUT_MS = 300
    connection.close()
    statement_timeout_enable()
    yield
    statement_timeout_disable()
    connection.close()  # the next test's connection has no timeout


def _lock_holder() -> psycopg.Connection:
    db = connection.settings_dict
    holder = psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, dbname=db["NAME"], user=db["USER"],
        password=db.get("PASSWORD") or None,
    )  # fmt: skip
    holder.execute(f'LOCK TABLE "{User._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
    return holder


def test_a_statement_past_the_timeout_is_cut_with_the_503_page(world, short_web_timeout):
    for language, says in (("en", "took too long"), ("hi", "बहुत समय लिया")):
        client = Client(raise_request_exception=False, headers={"accept-language": language})
        sign_in(client, world.worker)
        connection.close()  # the request opens a new connection, which the signal gives the timeout
        holder = _lock_holder()
        try:
            response = client.get("/")
            assert holder.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS, "the lock went early"
        finally:
            holder.rollback()
            holder.close()
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert says in response.content.decode()

        assert client.get("/").status_code == 200, "the next request, with the lock gone, is served"

    # The switch is per process and per new connection: switched off, a new connection has no limit.
    statement_timeout_disable()
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def _timeout_in_a_process(code: str, **env: str) -> str:
    process_env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url_for(connection.settings_dict),
        **env,
    }
    script = (
        "import django\n"
        + code
        + (
            "\nfrom django.db import connection\n"
            "with connection.cursor() as c:\n    c.execute('SHOW statement_timeout'); print(c.fetchone()[0])\n"
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=process_env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_web_processes_have_the_timeout_and_others_do_not():
    assert _timeout_in_a_process("import portal.wsgi") == "20s"
    assert _timeout_in_a_process("import portal.wsgi", PRAHARI_WEB_STATEMENT_TIMEOUT_MS="1500") == "1500ms"
    # Celery's processes load the app and set Django up; they never import portal.wsgi.
    assert _timeout_in_a_process("from portal.celery import app\ndjango.setup()") == "0"
    # Through a transaction-mode pooler the session setting would leak to other clients: off.
    assert _timeout_in_a_process("import portal.wsgi", PRAHARI_DB_POOLER="transaction") == "0"


def test_management_commands_have_no_timeout():
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.db import connection\nc = connection.cursor(); c.execute('SHOW statement_timeout');"
         " print(c.fetchone()[0])"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "portal.settings.test",
                          "DATABASE_URL": database_url_for(connection.settings_dict)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"
