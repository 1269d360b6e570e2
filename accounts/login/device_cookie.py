"""The device cookie: a signed, HttpOnly, Secure cookie holding this browser's 256-bit token.

Its name is settings.DEVICE_COOKIE_NAME (`__Host-prahari_device` when DEBUG is off). A cookie under one of
settings.DEVICE_COOKIE_OLD_NAMES (the name before the prefix) is still read, with its own signature, and
`device_cookie_migrate` moves it to the current name on the response, so an approved browser stays approved.
"""

from __future__ import annotations

from django.conf import settings

SALT = "prahari.device-cookie"


def _read(request, name: str) -> str | None:
    return request.get_signed_cookie(name, default=None, salt=SALT, max_age=settings.DEVICE_COOKIE_MAX_AGE)


def _old_token(request) -> str | None:
    for name in settings.DEVICE_COOKIE_OLD_NAMES:
        if name in request.COOKIES:
            token = _read(request, name)
            if token:
                return token
    return None


def device_token_read(request) -> str | None:
    """The browser's token if its cookie is present and its signature holds, else None (fail closed).

    A cookie under the current name wins; without one, a valid cookie under an old name is believed."""
    if settings.DEVICE_COOKIE_NAME in request.COOKIES:
        return _read(request, settings.DEVICE_COOKIE_NAME)
    return _old_token(request)


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


def device_cookie_migrate(request, response) -> None:
    """Move a device cookie under an old name to the current name, and delete the old one.

    Nothing happens when the response sets a device cookie itself, or the request has no old cookie. An old
    cookie whose signature fails is deleted and not carried over."""
    old = [name for name in settings.DEVICE_COOKIE_OLD_NAMES if name in request.COOKIES]
    if not old or settings.DEVICE_COOKIE_NAME in response.cookies:
        return
    token = _old_token(request)
    if token and settings.DEVICE_COOKIE_NAME not in request.COOKIES:
        device_token_write(response, token)
    for name in old:
        response.delete_cookie(name, samesite="Lax")
