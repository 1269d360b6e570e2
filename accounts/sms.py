"""The SMS gateway: `send_sms(to, text)` hands a message to the backend named by `settings.SMS_BACKEND`.

Like Django's e-mail backends, a backend is a class with `send(to, text)`; `SMS_BACKEND` is one of the
short names below or a dotted path to such a class. Settings are read at call time, never at import.

A message may hold a code or a link, and a mobile number is personal data: nothing here logs either.
Where a number must be shown or logged, use `mask_mobile`. (The console and file backends *are* the
simulated phone of development, so they show the whole message; they are not logs.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 10
VISIBLE_DIGITS = 4
# E.164-like: an optional "+" and digits only, so a number is also a safe file name.
_NUMBER = re.compile(r"^\+?\d{6,15}$")


class SMSDeliveryError(Exception):
    """The gateway did not accept the message (network error or a non-2xx answer); safe to retry."""


def mask_mobile(number: str | None) -> str:
    """Return `number` with all but its last 4 digits hidden: "+919876543210" → "+91******3210".

    Idempotent (a masked number stays the same), so it is safe on values that may be masked already.
    """
    number = (number or "").strip()
    if not number:
        return ""
    prefix = "+91" if number.startswith("+91") and len(number) > len("+91") + VISIBLE_DIGITS else ""
    rest = number[len(prefix) :]
    hidden = max(len(rest) - VISIBLE_DIGITS, 0)
    return prefix + "*" * hidden + rest[hidden:]


def _check_number(to: str) -> None:
    if not _NUMBER.match(to or ""):
        raise ValueError(f"Not a mobile number in international form: {mask_mobile(to)!r}")


class BaseSMSBackend:
    """Deliver one message; raise SMSDeliveryError when the gateway refuses or cannot be reached."""

    def send(self, to: str, text: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseSMSBackend):
    """Print each message to stdout: in development the terminal is the phone."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, to: str, text: str) -> None:
        self.stream.write(f"--- SMS to {to} ---\n{text}\n")
        self.stream.flush()


class FileBackend(BaseSMSBackend):
    """Append each message to `SMS_FILE_PATH/<number without +>.txt` (one file per phone)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, to: str, text: str) -> None:
        _check_number(to)  # the number becomes a file name: digits only, no path tricks
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path / f"{to.lstrip('+')}.txt"
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        # Owner-only: the messages hold codes and reset links.
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(f"--- {stamp} ---\n{text}\n")


# Like django.core.mail.outbox: tests read and clear it.
outbox: list[tuple[str, str]] = []


class LocmemBackend(BaseSMSBackend):
    """Keep each message in the module-level `outbox` list as `(to, text)`."""

    def send(self, to: str, text: str) -> None:
        outbox.append((to, text))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without its body: treat 3xx as a failure instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HTTPBackend(BaseSMSBackend):
    """POST `{"to", "text", "sender"}` as JSON to `SMS_HTTP_URL` with `Authorization: Bearer SMS_HTTP_TOKEN`."""

    def __init__(self, url: str | None = None, token: str | None = None, sender: str | None = None) -> None:
        self.url = url or settings.SMS_HTTP_URL
        self.token = token or settings.SMS_HTTP_TOKEN
        self.sender = sender or settings.SMS_HTTP_SENDER
        if not self.url or not self.url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("SMS_BACKEND 'http' needs SMS_HTTP_URL, an http:// or https:// URL.")
        if not self.token:
            raise ImproperlyConfigured("SMS_BACKEND 'http' needs SMS_HTTP_TOKEN.")
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, to: str, text: str) -> None:
        body = json.dumps({"to": to, "text": text, "sender": self.sender}).encode()
        request = urllib.request.Request(  # noqa: S310  (the scheme is checked in __init__)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
        )
        # Errors name the status or the network failure only: never the number, the text or the token.
        try:
            with self._opener.open(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise SMSDeliveryError(f"SMS gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SMSDeliveryError(f"SMS gateway unreachable ({type(reason).__name__})") from None
        if not 200 <= status < 300:
            raise SMSDeliveryError(f"SMS gateway answered HTTP {status}")


BACKENDS = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "locmem": "accounts.sms.LocmemBackend",
    "http": "accounts.sms.HTTPBackend",
}


def get_backend() -> BaseSMSBackend:
    """Return an instance of the backend `settings.SMS_BACKEND` names; ImproperlyConfigured if none."""
    name = (getattr(settings, "SMS_BACKEND", "") or "").strip()
    path = BACKENDS.get(name.lower(), name if "." in name else None)
    if path is None:
        raise ImproperlyConfigured(
            f"SMS_BACKEND={name!r} is not an SMS backend: use one of {', '.join(BACKENDS)}, "
            "or the dotted path of a backend class."
        )
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND={name!r} cannot be imported: {exc}") from exc
    return backend_class()


def send_sms(to: str, text: str) -> None:
    """Send `text` to the mobile number `to` ("+91…") through the configured backend.

    Raises SMSDeliveryError when the gateway refuses, ValueError for a malformed number and
    ImproperlyConfigured for a bad SMS_BACKEND. Logs the masked number only.
    """
    _check_number(to)
    backend = get_backend()
    backend.send(to, text)
    log.info("SMS to %s handed to %s", mask_mobile(to), type(backend).__name__)


def text_in_hindi_and_english(message, values: dict) -> str:
    """`message` (a lazy translation with %(name)s placeholders) in Hindi, then in English, for a person whose
    language the portal does not know (a beneficiary's is not on the record)."""
    lines = []
    for language in ("hi", "en"):
        with translation.override(language):
            lines.append(str(message) % values)
    return "\n".join(lines)
