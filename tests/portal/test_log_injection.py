"""Log lines cannot be forged through a value a client chose (ASVS 5.0 V16.4.1), and every timestamp is UTC
with its offset (V16.2.2): in the JSON format of production and the text format of development."""

from __future__ import annotations

import json
import logging
import re

import pytest

from portal.logs import JsonFormatter, TextFormatter, log_escape
from tests.accounts.test_login_flow import post_password
from tests.portal.test_logs import log_lines as log_lines  # the fixture, reused

FORGED = "eve\n2026-01-01T00:00:00.000+00:00 CRITICAL prahari.audit: admin deleted\r\x1b[2K\x85\u2028x\ty"


def _record(message: str, *args) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "prahari.test", "levelno": logging.WARNING, "levelname": "WARNING", "msg": message, "args": args}
    )


def test_escape_puts_every_control_character_on_the_one_line():
    escaped = log_escape(FORGED)
    assert len(escaped.splitlines()) == 1
    assert "\\n2026" in escaped and "\\r" in escaped and "\\x1b[2K" in escaped and "\\x85" in escaped
    assert "\\u2028" in escaped and "\\t" in escaped
    assert log_escape("नमस्ते, asha") == "नमस्ते, asha"  # printable text, Hindi included, is left alone


def test_the_text_format_writes_one_line_with_a_utc_time():
    line = TextFormatter().format(_record("sign-in failed for %s", FORGED))
    assert len(line.splitlines()) == 1
    assert "CRITICAL" not in line.split(" ", 2)[1]
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 WARNING prahari\.test: sign-in failed for eve\\n", line
    )


def test_the_text_format_keeps_a_traceback_on_its_own_lines_after_the_message():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record("failed: %s", "a\nb")
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    first, rest = text.split("\n", 1)
    assert first.endswith("failed: a\\nb") and rest.startswith("Traceback") and "ValueError: boom" in rest


def test_the_json_format_is_one_line_that_reads_back_the_same():
    line = JsonFormatter().format(_record("sign-in failed for %s", FORGED))
    assert len(line.splitlines()) == 1
    entry = json.loads(line)
    assert entry["message"] == f"sign-in failed for {FORGED}"
    assert entry["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_username_with_a_newline_forges_no_line(world, client, log_lines):
    post_password(client, FORGED, password="wrong password, surely")
    post_password(client, world.worker.username, password="wrong password, surely")
    lines = log_lines.text.splitlines()
    assert lines, "the sign-ins wrote log lines"
    for line in lines:
        entry = json.loads(line)  # each physical line is one whole JSON object
        assert entry["time"].endswith("+00:00")
    assert not any(line.startswith("2026-01-01") for line in lines)
