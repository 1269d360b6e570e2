"""Redis killed while people sign in and open records: both go on, the outbox keeps the messages, /readyz says the
broker is down; Redis back: the outbox drains and nothing is sent twice.

A real gunicorn web process and, once Redis is back, a real Celery worker, both on a Redis of the test's own
(`redis-server` killed with SIGKILL and started again on its port) and on the test database. Messages go to
files (the SMS file backend, Django's file e-mail backend) so each one sent can be counted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Notification, RegisteredDevice, UserSession
from records.models import AccessEvent
from tests.accounts.test_login_flow import PASSWORD, totp_now
from tests.faults.services import wait_until
from tests.faults.web import Web, web_start
from tests.integration.conftest import _celery_process, database_url_for
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Browser:
    """requests with the portal's cookies kept over plain HTTP (they are Secure: the test plays the TLS proxy)."""

    def __init__(self, web: Web):
        self.web, self.session = web, requests.Session()

    def _plain(self) -> None:
        for cookie in self.session.cookies:
            cookie.secure = False

    def get(self, path: str) -> requests.Response:
        response = self.session.get(f"{self.web.base}{path}", timeout=60, allow_redirects=False)
        self._plain()
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        headers = {"X-CSRFToken": self.session.cookies.get(settings.CSRF_COOKIE_NAME, "")}
        response = self.session.post(f"{self.web.base}{path}", data=data, headers=headers, timeout=60,
                                     allow_redirects=False)  # fmt: skip
        self._plain()
        return response

    def login(self, username: str, code: str) -> requests.Response:
        assert self.get("/accounts/login/").status_code == 200
        password = self.post("/accounts/login/", {"username": username, "password": PASSWORD})
        assert password.status_code == 302, password.text[-2000:]
        return self.post("/accounts/login/code/", {"method": "totp", "token": code})


def _sms_sent(directory: Path) -> int:
    return sum(p.read_text().count("\n--- ") + 1 for p in directory.glob("*.txt")) if directory.exists() else 0


def _mail_sent(directory: Path) -> int:
    return (
        sum(p.read_text(errors="replace").count("\nMessage-ID: ") for p in directory.glob("*"))
        if directory.exists()
        else 0
    )


def test_logins_and_record_views_go_on_without_redis_and_the_outbox_drains_once(
    world,
    records,  # noqa: F811
    own_redis,
    tmp_path,
):
    sms_dir, mail_dir = tmp_path / "sms", tmp_path / "mail"
    mail_dir.mkdir()
    prefix = f"prahari-faults-{uuid.uuid4().hex}"
    env = {"REDIS_URL": own_redis.url, "CELERY_BROKER_URL": None, "CELERY_QUEUE": prefix, "SMS_BACKEND": "file",
           "SMS_FILE_PATH": str(sms_dir), "EMAIL_URL": f"file://{mail_dir}",
           "DATABASE_URL": database_url_for(connection.settings_dict)}  # fmt: skip
    phone = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    web = web_start(tmp_path=tmp_path, env=env)
    worker = None
    try:
        assert requests.get(f"{web.base}/readyz", timeout=30).json() == {"db": "ok", "broker": "ok"}
        own_redis.kill()
        ready = requests.get(f"{web.base}/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (503, {"db": "ok", "broker": "down"})
        assert requests.get(f"{web.base}/healthz", timeout=30).status_code == 200

        # A first login from a new browser: the device waits for the supervisors, who are told (the outbox).
        browser = Browser(web)
        pending = browser.login(world.worker.username, totp_now(phone))
        assert pending.status_code == 403, web.output()[-3000:]
        device = RegisteredDevice.objects.get(user=world.worker)
        assert device.status == "pending" and device.code in pending.text
        RegisteredDevice.objects.filter(pk=device.pk).update(status="approved")  # as a supervisor would
        # The next login goes in, and a record opens and is logged.
        signed_in = browser.login(world.worker.username, totp_now(phone, 1))
        assert (signed_in.status_code, signed_in.headers.get("Location")) == (302, "/"), web.output()[-3000:]
        assert browser.get("/").status_code == 200
        page = browser.get(f"/records/{records.own.reference_id}/?purpose=due_dose")
        assert page.status_code == 200 and records.own.name in page.text, web.output()[-3000:]
        assert AccessEvent.objects.filter(actor=world.worker, beneficiary=records.own).count() == 1

        outbox = Notification.objects.filter(kind="device_pending")
        assert outbox.count() >= 2 and set(outbox.values_list("state", flat=True)) == {"pending"}
        assert _sms_sent(sms_dir) == 0 and _mail_sent(mail_dir) == 0

        own_redis.start()
        assert requests.get(f"{web.base}/readyz", timeout=30).json() == {"db": "ok", "broker": "ok"}
        # The drain sends rows pending for over a minute: that minute has passed for these.
        Notification.objects.filter(state="pending").update(created_at=timezone.now() - timedelta(minutes=2))
        rows = list(Notification.objects.filter(state="pending").values_list("pk", "channel"))
        assert sorted({channel for _pk, channel in rows}) == ["email", "sms"]
        worker = _celery_process(
            ["worker", "--pool", "solo", "-Q", f"{prefix}-notifications", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "--hostname", f"{prefix}@%h"],
            database_url=env["DATABASE_URL"], env=env, log_path=tmp_path / "worker.log", queue=prefix,
        )  # fmt: skip
        producer = Celery("prahari-faults-producer", set_as_current=False, fixups=[])
        producer.conf.update(broker_url=own_redis.url, task_serializer="json", accept_content=["json"])
        queue = f"{prefix}-notifications"
        try:
            producer.send_task("accounts.drain_notifications", queue=queue)
            wait_until(lambda: not Notification.objects.filter(state="pending").exists(), what="the outbox drained",
                       timeout=90, output=worker.output)  # fmt: skip
            # Sent again, as a redelivered message or a second drain would: nothing goes out twice.
            producer.send_task("accounts.drain_notifications", queue=queue)
            for pk, _channel in rows:
                producer.send_task("accounts.send_notification", args=[pk], queue=queue)
            # A last task on the same queue: when it has run, the ones before it have (one process, in order).
            expired = UserSession.objects.create(
                session_key=uuid.uuid4().hex, session_data="", expire_date=timezone.now() - timedelta(hours=1)
            )
            producer.send_task("accounts.clear_expired_sessions", queue=queue)
            wait_until(lambda: not UserSession.objects.filter(pk=expired.pk).exists(), what="the last task run",
                       timeout=90, output=worker.output)  # fmt: skip
        finally:
            producer.close()
        assert set(Notification.objects.filter(pk__in=[pk for pk, _ in rows]).values_list("state", flat=True)) == {
            "sent"
        }
        assert _sms_sent(sms_dir) == sum(channel == "sms" for _pk, channel in rows)
        assert _mail_sent(mail_dir) == sum(channel == "email" for _pk, channel in rows)
    finally:
        if worker is not None:
            worker.stop()
            print(f"--- worker ---\n{worker.output()[-4000:]}")
        web.stop()
        print(f"--- gunicorn ---\n{web.output()[-4000:]}")
