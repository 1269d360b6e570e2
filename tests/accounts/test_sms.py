"""The SMS gateway: backend choice, each backend's delivery, masking, and no number or text in the logs."""

from __future__ import annotations

import json
import logging
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts import sms
from accounts.sms import SMSDeliveryError, mask_mobile, send_sms

NUMBER = "+919876543210"
TEXT = "Prahari: your code is 482913"


@pytest.fixture
def sms_outbox(settings) -> Iterator[list[tuple[str, str]]]:
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


# --- masking --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+919876543210", "+91******3210"),
        ("+91******3210", "+91******3210"),  # masking twice changes nothing
        ("9876543210", "******3210"),
        ("3210", "3210"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_mobile_shows_only_the_last_four_digits(number, masked):
    assert mask_mobile(number) == masked


# --- choosing a backend ---------------------------------------------------------------------------


def test_locmem_backend_keeps_the_message_in_the_outbox(sms_outbox):
    send_sms(NUMBER, TEXT)
    assert sms_outbox == [(NUMBER, TEXT)]


def test_backend_may_be_named_by_dotted_path(settings, sms_outbox):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    send_sms(NUMBER, TEXT)
    assert sms_outbox == [(NUMBER, TEXT)]


@pytest.mark.parametrize("name", ["carrier-pigeon", "", "accounts.sms.NoSuchBackend"])
def test_unknown_backend_is_improperly_configured(settings, name):
    settings.SMS_BACKEND = name
    with pytest.raises(ImproperlyConfigured) as error:
        send_sms(NUMBER, TEXT)
    assert "SMS_BACKEND" in str(error.value)
    assert repr(name) in str(error.value)


def test_a_malformed_number_is_refused_before_any_backend(sms_outbox):
    with pytest.raises(ValueError, match="mobile number"):
        send_sms("../../etc/passwd", TEXT)
    assert sms_outbox == []


# --- console and file backends (the simulated phone of development) ------------------------------


def test_console_backend_prints_the_message(settings, capsys):
    settings.SMS_BACKEND = "console"
    send_sms(NUMBER, TEXT)
    out = capsys.readouterr().out
    assert NUMBER in out
    assert TEXT in out


def test_file_backend_appends_to_one_file_per_number_creating_the_folder(settings, tmp_path):
    folder = tmp_path / "var" / "sms"
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = folder

    send_sms(NUMBER, "first message")
    send_sms(NUMBER, "second message")
    send_sms("+918765432109", "to someone else")

    assert sorted(path.name for path in folder.iterdir()) == ["918765432109.txt", "919876543210.txt"]
    content = (folder / "919876543210.txt").read_text(encoding="utf-8")
    assert content.index("first message") < content.index("second message")
    assert "to someone else" not in content
    assert stat.S_IMODE((folder / "919876543210.txt").stat().st_mode) == 0o600


def test_file_backend_keeps_hindi_text(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path
    send_sms(NUMBER, "प्रहरी: आपका खाता लॉक हो गया है।")
    assert "प्रहरी: आपका खाता लॉक हो गया है।" in (tmp_path / "919876543210.txt").read_text(encoding="utf-8")


# --- HTTP backend against a real local server -----------------------------------------------------


@dataclass
class Gateway:
    url: str
    status: int = 200
    headers: dict = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """An HTTP server on 127.0.0.1 that records each request and answers `gateway.status`."""
    state = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_settings(settings, gateway):
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = gateway.url
    settings.SMS_HTTP_TOKEN = "gateway-token-123"
    settings.SMS_HTTP_SENDER = "PRAHRI"
    return settings


def test_http_backend_posts_json_with_bearer_token(http_settings, gateway):
    send_sms(NUMBER, "प्रहरी: कोड 482913")

    assert len(gateway.requests) == 1
    request = gateway.requests[0]
    assert request["path"] == "/v1/sms"
    assert request["headers"]["Authorization"] == "Bearer gateway-token-123"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(request["body"].decode("utf-8")) == {
        "to": NUMBER,
        "text": "प्रहरी: कोड 482913",
        "sender": "PRAHRI",
    }


@pytest.mark.parametrize("status", [500, 401, 302])
def test_http_backend_raises_delivery_error_on_a_non_2xx_answer(http_settings, gateway, status):
    gateway.status = status
    gateway.headers = {"Location": gateway.url + "/elsewhere"} if status == 302 else {}
    with pytest.raises(SMSDeliveryError) as error:
        send_sms(NUMBER, TEXT)
    assert str(status) in str(error.value)
    # The error may end up in a row, a log or a task result: no number, text or token in it.
    for secret in (NUMBER, "482913", "gateway-token-123"):
        assert secret not in str(error.value)
    assert len(gateway.requests) == 1, "a redirect must not be followed (it would replay the POST as a GET)"


def test_http_backend_raises_delivery_error_when_the_gateway_is_unreachable(settings):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{port}/v1/sms"
    settings.SMS_HTTP_TOKEN = "gateway-token-123"
    with pytest.raises(SMSDeliveryError, match="unreachable"):
        send_sms(NUMBER, TEXT)


def test_http_backend_without_url_is_improperly_configured(settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = ""
    settings.SMS_HTTP_TOKEN = "gateway-token-123"
    with pytest.raises(ImproperlyConfigured, match="SMS_HTTP_URL"):
        send_sms(NUMBER, TEXT)


def test_http_backend_uses_a_ten_second_timeout():
    assert sms.HTTP_TIMEOUT_SECONDS == 10


# --- logs -----------------------------------------------------------------------------------------


def _logged_text(caplog) -> str:
    return "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)


@pytest.mark.parametrize("backend", ["locmem", "http", "file"])
def test_a_send_logs_neither_the_full_number_nor_the_text(settings, tmp_path, gateway, caplog, backend):
    settings.SMS_BACKEND = backend
    settings.SMS_FILE_PATH = tmp_path
    settings.SMS_HTTP_URL = gateway.url
    settings.SMS_HTTP_TOKEN = "gateway-token-123"
    caplog.set_level(logging.DEBUG)

    send_sms(NUMBER, TEXT)

    logged = _logged_text(caplog)
    assert mask_mobile(NUMBER) in logged, "the send is logged, with the masked number"
    assert NUMBER not in logged
    assert "9876543210" not in logged
    assert "482913" not in logged
