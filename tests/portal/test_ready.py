"""`make run`'s banner (portal/ready.py): printed once the web answers, then quiet until honcho stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from portal import ready

SCRIPT = Path(ready.__file__)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"db": "ok"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_it_waits_for_an_answer_and_gives_up_only_when_told(site):
    assert ready.wait_for(f"{site}healthz", timeout=5)
    assert not ready.answers(f"{site}missing")
    closed = HTTPServer(("127.0.0.1", 0), _Health)
    port = closed.server_port
    closed.server_close()
    assert not ready.wait_for(f"http://127.0.0.1:{port}/healthz", timeout=0.3, interval=0.1)
    with pytest.raises(ValueError, match="not a web address"):
        ready.answers("file:///etc/passwd")


def test_the_banner_says_where_and_then_the_demos_lines():
    text = ready.banner("http://127.0.0.1:8000/", "Sign in as w.lucknow.01.\nRecords w.lucknow.01 may read: 1, 2, 3\n")
    lines = text.splitlines()
    assert lines[0] == lines[-1] == ready.RULE
    assert lines[1].startswith("Prahari is ready: http://127.0.0.1:8000/") and "admin/" in lines[1]
    assert lines[2:4] == ["Sign in as w.lucknow.01.", "Records w.lucknow.01 may read: 1, 2, 3"]


def test_as_honchos_process_it_prints_once_then_waits_for_sigterm(site, tmp_path):
    body = tmp_path / "banner.txt"
    body.write_text("Sign in as dio.lucknow.\n", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-P", str(SCRIPT), site, str(body)], stdout=subprocess.PIPE, text=True)
    try:
        first = [process.stdout.readline() for _ in range(3)]
        assert first[1].startswith("Prahari is ready: " + site) and first[2] == "Sign in as dio.lucknow.\n"
        assert process.poll() is None  # still running: honcho would stop everything if it ended
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
