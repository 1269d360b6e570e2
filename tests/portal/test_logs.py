"""Structured logs: JSON lines through the configured handler, a request id (generated, or a trusted proxy's
sane X-Request-ID), the user id, and never a password, code, token, session key or record content."""

from __future__ import annotations

import io
import json
import logging
from ipaddress import ip_network

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import Client
from django.utils.module_loading import import_string

from portal.logs import TASK_HEADER, LogContext, context_enter, context_exit, task_headers_add
from portal.middleware import RequestObservationMiddleware
from portal.settings.observability import logging_settings
from tests.accounts.test_credentials import post_reset, request_reset, reset_path
from tests.accounts.test_login_flow import PASSWORD, approve_pending, later, post_code, post_password, totp_now
from tests.accounts.test_login_flow import phone as phone  # the fixture, reused
from tests.records.conftest import records as records  # the fixture, reused

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"


class Lines:
    """What the configured log handler wrote while the fixture was active, one parsed JSON object a line."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def parsed(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def requests(self) -> list[dict]:
        return [line for line in self.parsed() if line["logger"] == "prahari.request"]


@pytest.fixture
def log_lines():
    """The handler of settings.LOGGING (formatter and filter as configured) on the root logger, writing to a
    buffer, with the root logger at DEBUG (as DJANGO_LOG_LEVEL=DEBUG would set it; the configured loggers
    keep their levels)."""
    config = django_settings.LOGGING
    assert config["formatters"]["portal"]["()"] == "portal.logs.JsonFormatter", "the test settings log JSON"
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(import_string(config["formatters"]["portal"]["()"])())
    handler.addFilter(import_string(config["filters"]["context"]["()"])())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield Lines(buffer)
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_writes_one_json_line_with_its_id_route_and_status(client, log_lines):
    response = client.get("/accounts/login/")

    (line,) = log_lines.requests()
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32 and int(line["request_id"], 16) >= 0
    assert (line["method"], line["route"], line["status"], line["level"]) == ("GET", "accounts:login", 200, "INFO")
    assert isinstance(line["duration_ms"], float)
    assert "user_id" not in line  # nobody is signed in


def test_every_line_of_a_request_carries_its_id(rf, log_lines):
    def view_that_logs(request):
        logging.getLogger("prahari.test").warning("inside the view")
        return HttpResponse()

    response = RequestObservationMiddleware(view_that_logs)(rf.get("/"))

    lines = log_lines.parsed()
    assert {line["request_id"] for line in lines} == {response["X-Request-ID"]}
    assert [line["message"] for line in lines if line["logger"] == "prahari.test"] == ["inside the view"]
    assert [line["route"] for line in log_lines.requests()] == ["unmatched"]


@pytest.mark.parametrize(
    ("peer", "given", "kept"),
    [
        pytest.param(PROXY, "lb-7f3a9c2e-0001", True, id="trusted proxy, sane id"),
        pytest.param(PROXY, "a" * 64, True, id="64 characters"),
        pytest.param("198.51.100.7", "lb-7f3a9c2e-0001", False, id="a client's own header"),
        pytest.param(PROXY, "short", False, id="too short"),
        pytest.param(PROXY, "a" * 65, False, id="too long"),
        pytest.param(PROXY, "id with spaces 123", False, id="spaces"),
        pytest.param(PROXY, 'x"}\n{"level":"CRITICAL', False, id="log injection"),
        pytest.param(PROXY, "रिक्वेस्ट-0123456", False, id="not ASCII"),
    ],
)
def test_an_x_request_id_is_taken_only_from_a_trusted_proxy_and_only_when_sane(settings, log_lines, peer, given, kept):
    settings.TRUSTED_PROXIES = (ip_network(f"{PROXY}/32"),)
    response = Client().get("/accounts/login/", REMOTE_ADDR=peer, HTTP_X_REQUEST_ID=given)

    (line,) = log_lines.requests()
    assert line["request_id"] == response["X-Request-ID"]
    if kept:
        assert line["request_id"] == given
    else:
        assert line["request_id"] != given and len(line["request_id"]) == 32
        assert given not in log_lines.text


def test_a_whole_login_and_record_view_log_no_secret(world, client, phone, records, log_lines):
    """Password, code, device then session; a record opened; a bad reset link; every line parsed and grepped."""
    assert post_password(client, world.worker.username).status_code == 302
    first_code = totp_now(phone)
    post_code(client, first_code)  # a new browser: it waits for its supervisor
    approve_pending(world.worker, world.supervisor)
    with later(31):
        assert post_password(client, world.worker.username).status_code == 302
        code = totp_now(phone)
        assert post_code(client, code).status_code == 302
        response = client.get(f"/records/{records.own.reference_id}/?purpose=due_dose")
        assert response.status_code == 200 and records.own.name in response.content.decode()
        client.get("/accounts/password-reset/MQ/bogus-reset-token-9f8e7d/")  # 400: a link that is not valid

    lines = log_lines.parsed()  # every line is one JSON object
    secrets = {
        "password": PASSWORD,
        "first code": first_code,
        "code": code,
        "identity number": records.own.id_number,
        "mobile": records.own.mobile.removeprefix("+91"),
        "name": records.own.name,
        "session key": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "device cookie": client.cookies[django_settings.DEVICE_COOKIE_NAME].value,
        "reset token": "bogus-reset-token-9f8e7d",
    }
    found = {what for what, secret in secrets.items() if secret in log_lines.text}
    assert not found, f"the logs hold the {', '.join(sorted(found))}"
    routes = [(line["route"], line["status"]) for line in log_lines.requests()]
    assert ("records:record", 200) in routes and ("accounts:password-reset-confirm", 400) in routes
    viewed = next(line for line in log_lines.requests() if line["route"] == "records:record")
    assert viewed["user_id"] == world.worker.pk
    bad = next(line for line in lines if line["logger"] == "django.request" and line["status_code"] == 400)
    assert bad["message"] == "Bad Request: accounts:password-reset-confirm"  # the route, not the path
    reset = next(line for line in log_lines.requests() if line["route"] == "accounts:password-reset-confirm")
    assert bad["request_id"] == reset["request_id"]


def test_a_wrong_code_on_a_reset_link_logs_no_part_of_the_link(world, client, phone, log_lines):
    request_reset(client, world.worker.username)
    path = reset_path(world.worker)
    post_reset(client, path, "000000" if totp_now(phone) != "000000" else "111111")

    token = path.rstrip("/").rsplit("/", 1)[-1]
    assert any(line["logger"].startswith("axes") for line in log_lines.parsed()), "axes logged the failure"
    assert token not in log_lines.text and path not in log_lines.text


def test_the_log_format_is_a_setting(monkeypatch):
    monkeypatch.delenv("PRAHARI_LOG_FORMAT", raising=False)
    assert logging_settings(debug=False)[0] == "json"
    assert logging_settings(debug=True)[0] == "text"
    monkeypatch.setenv("PRAHARI_LOG_FORMAT", "text")
    log_format, config = logging_settings(debug=False)
    assert (log_format, config["formatters"]["portal"]["()"]) == ("text", "portal.logs.TextFormatter")
    monkeypatch.setenv("PRAHARI_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="json, text"):
        logging_settings(debug=False)


def test_a_task_sent_during_a_request_carries_its_id_in_the_message_headers():
    headers: dict = {}
    token = context_enter(LogContext(request_id="lb-7f3a9c2e-0001"))
    try:
        task_headers_add(headers=headers)
    finally:
        context_exit(token)
    assert headers == {TASK_HEADER: "lb-7f3a9c2e-0001"}

    task_headers_add(headers=(outside := {}))
    assert outside == {}  # outside a request nothing is added
