"""The device cookie: a signed, HttpOnly, Secure cookie holding this browser's 256-bit token."""

from __future__ import annotations

from django.conf import settings

SALT = "prahari.device-cookie"


def device_token_read(request) -> str | None:
    """The browser's token if its cookie is present and its signature holds, else None (fail closed)."""
    return request.get_signed_cookie(
        settings.DEVICE_COOKIE_NAME, default=None, salt=SALT, max_age=settings.DEVICE_COOKIE_MAX_AGE
    )


def device_token_write(response, token: str) -> None:
    response.set_signed_cookie(
        settings.DEVICE_COOKIE_NAME,
        token,
        salt=SALT,
        max_age=settings.DEVICE_COOKIE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
