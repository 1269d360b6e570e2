"""Structured logs: one line per event, carrying the request id and the user id, never a secret.

A request's id (`request_id_for`) is generated, or taken from X-Request-ID when a trusted proxy
(DJANGO_TRUSTED_PROXIES) sent it and it is 8 to 64 letters, digits, dots, hyphens or underscores.
`RequestObservationMiddleware` (portal/middleware.py) holds it in a context variable for the request;
`ContextFilter` adds it, the user id (only once something in the request has read the user: logging
never costs a query) and the Celery task to every record. Celery tasks sent during the request carry
the id in a message header (`task_headers_add`), and the worker puts it back for the task's lines
(`task_context_enter`).

Nothing here writes a path or a query string: a path can hold a token (an invitation or reset link),
so Django's request records name the route instead (`ContextFilter`). Passwords, codes, tokens, session
keys and record contents are never logged by the portal's code; tests/portal/test_logs.py greps a
whole login and record view for them.

Settings: PRAHARI_LOG_FORMAT (json | text) and DJANGO_LOG_LEVEL (portal/settings/observability.py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "prahari_request_id"  # the Celery message header that carries the request id
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT_FIELDS = ("request_id", "user_id", "task", "task_id")

log = logging.getLogger("prahari.task")


@dataclass(frozen=True)
class LogContext:
    request_id: str | None
    request: Any = None  # the HttpRequest being answered
    task: str | None = None  # the Celery task being run
    task_id: str | None = None


_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("prahari_log_context", default=None)


def context_enter(context: LogContext) -> contextvars.Token:
    """Make `context` the one every log line of this thread (or task) carries, until `context_exit`."""
    return _context.set(context)


def context_exit(token: contextvars.Token) -> None:
    """Back to the context before `context_enter` (none, when the token belongs to another context)."""
    try:
        _context.reset(token)
    except ValueError:
        _context.set(None)


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context is not None else None


def request_id_valid(value: object) -> bool:
    """Whether `value` may be written to a log as a request id (8–64 of A–Z a–z 0–9 . _ -)."""
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


def request_id_for(request) -> str:
    """The id of this request: a trusted proxy's valid X-Request-ID, else a new random one."""
    from accounts.request_info import from_trusted_proxy  # the one notion of a trusted proxy

    given = request.headers.get(REQUEST_ID_HEADER)
    if given is not None and request_id_valid(given) and from_trusted_proxy(request):
        return given
    return uuid.uuid4().hex


def route_label(request) -> str:
    """The route's name (`records:record`), never the path; "unmatched" when no route matched."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else "unmatched"


def _user_id(request) -> int | None:
    """The signed-in user's id, if something in this request already loaded the user (else None: no query)."""
    user = vars(request).get("user") if request is not None else None
    while isinstance(user, SimpleLazyObject):  # django-otp wraps the lazy user of AuthenticationMiddleware
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class ContextFilter(logging.Filter):
    """Add request_id, user_id, task and task_id to every record; name the route where Django names a path."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        request = getattr(record, "request", None)  # Django's request records, some written after the middleware
        if context is None and isinstance(getattr(request, "request_id", None), str):
            context = LogContext(request_id=request.request_id, request=request)
        record.request_id = context.request_id if context else None
        record.user_id = _user_id(context.request) if context else None
        record.task = context.task if context else None
        record.task_id = context.task_id if context else None
        path = getattr(request, "path", None)
        if isinstance(path, str) and isinstance(record.args, tuple):
            # django.request and django.security write "<reason>: <path>"; the path may hold a token.
            full = request.get_full_path()
            record.args = tuple(route_label(request) if arg in (path, full) else arg for arg in record.args)
        return True


# Characters that would end or disguise a log line: C0 and C1 controls, DEL, and the Unicode line and paragraph
# separators. The text format writes each as an escape; the JSON format's encoder escapes them itself.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def log_escape(text: str) -> str:
    """`text` on one line: every control character written as an escape (\\n, \\r, \\t, \\x1b, \\u2028),
    so a value a client chose (a username, a header) cannot start a forged line (log injection)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), m.group().encode("unicode_escape").decode("ascii")), text)


def utc_time(record: logging.LogRecord) -> str:
    """The record's moment in UTC with its offset: `2026-12-04T06:30:00.123+00:00`."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the context fields that are set, the
    record's own scalar extras (e.g. status_code, duration_ms) and the exception's traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT_FIELDS:
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and isinstance(value, str | int | float | bool):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # json escapes C0 controls; the rest (DEL, C1, U+2028/9) as \\uXXXX too: the same string, one line for
        # every reader (Python's splitlines breaks at U+0085 and U+2028).
        line = json.dumps(entry, ensure_ascii=False, default=str)
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


class TextFormatter(logging.Formatter):
    """The plain development format, with the request id and user id when there are any: the time in UTC with
    its offset, and the message on one line (`log_escape`); a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = log_escape(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{key}={log_escape(str(getattr(record, key)))}"
            for key in _CONTEXT_FIELDS
            if getattr(record, key, None) is not None
        ]
        if not tags:
            return line
        first, newline, rest = line.partition("\n")  # the tags close the message's line, before any traceback
        return f"{first} [{' '.join(tags)}]{newline}{rest}"


# --- Celery: the request id travels with the task -------------------------------------------------------


def task_headers_add(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: put the current request id into the message's headers."""
    request_id = current_request_id()
    if request_id is not None and headers is not None:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, contextvars.Token] = {}


def task_context_enter(task_id: str | None = None, task=None, **kwargs) -> None:
    """task_prerun: the task's lines carry the request id it was sent with, its name and its id."""
    given = task.request.get(TASK_HEADER) if task is not None else None
    request_id = given if request_id_valid(given) else None
    name = getattr(task, "name", None)
    _task_tokens[task_id] = context_enter(LogContext(request_id=request_id, task=name, task_id=task_id))
    log.info("task %s started", name)


def task_context_exit(task_id: str | None = None, **kwargs) -> None:
    """task_postrun: back to no context."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        context_exit(token)


def celery_logging_setup(**kwargs) -> None:
    """setup_logging: Celery processes log as the web does (settings.LOGGING), not in Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
