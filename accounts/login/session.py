"""The signed-in session: who, since when, on which device, last active when; step-up freshness.

SECURITY.md §Sessions: rotated at login and step-up, 15 minutes idle and 12 hours absolute
(enforced here, server-side), bound to the approved device, one per user.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.utils import timezone
from django_otp import login as otp_login

from accounts.models import AccountEventType, RegisteredDevice, User
from accounts.request_info import client_ip
from accounts.services.events import event_record
from accounts.session_store import SESSION_DEVICE_KEY, SESSION_IP_KEY, SESSION_UA_KEY

AUTH_AT_KEY = "_prahari_auth_at"
SEEN_AT_KEY = "_prahari_seen_at"
DEVICE_KEY = SESSION_DEVICE_KEY
STEP_UP_AT_KEY = "_prahari_step_up_at"
# Writing the session on every request would cost a write per click; a minute of slack is enough.
SEEN_AT_RESOLUTION = timedelta(seconds=60)


def _stamp(when: datetime | None = None) -> str:
    return (when or timezone.now()).isoformat()


def _read(request, key: str) -> datetime | None:
    raw = request.session.get(key)
    try:
        return datetime.fromisoformat(raw) if raw else None
    except (TypeError, ValueError):
        return None


def session_start(request, *, user: User, device: RegisteredDevice, otp_device) -> int:
    """Log `user` in on `device` after password and OTP; end their other sessions; return how many ended.

    `login` rotates the session key; the session records auth time, device, IP and browser.
    """
    # Before `login`: the session being upgraded is still anonymous, so every row of `user` is another one.
    # Its own row goes in the same statement, so the rotation in `login` has none left to delete.
    ended = request.session.end_sessions_of(user.pk)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, otp_device)
    now = _stamp()
    request.session[AUTH_AT_KEY] = now
    request.session[SEEN_AT_KEY] = now
    request.session[DEVICE_KEY] = device.pk
    request.session[SESSION_IP_KEY] = client_ip(request)
    request.session[SESSION_UA_KEY] = request.META.get("HTTP_USER_AGENT", "")[:200]
    return ended


def session_end(request, *, reason: str) -> None:
    """Log out and record why (idle, absolute, device, logout, …)."""
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        event_record(
            type=AccountEventType.LOGGED_OUT if reason == "logout" else AccountEventType.SESSIONS_ENDED,
            actor=user if reason == "logout" else None,
            subject=user,
            ip=client_ip(request),
            data={"reason": reason, "device": request.session.get(DEVICE_KEY)},
        )
    logout(request)


def session_problem(request, *, device_token_hash: str | None) -> str | None:
    """Why this signed-in session must end now, or None when it may go on."""
    now = timezone.now()
    auth_at, seen_at = _read(request, AUTH_AT_KEY), _read(request, SEEN_AT_KEY)
    if auth_at is None or seen_at is None or not request.user.is_verified():
        return "incomplete"
    if now - auth_at > timedelta(hours=settings.PRAHARI_SESSION_ABSOLUTE_HOURS):
        return "absolute"
    if now - seen_at > timedelta(minutes=settings.PRAHARI_SESSION_IDLE_MINUTES):
        return "idle"
    device_id = request.session.get(DEVICE_KEY)
    device = RegisteredDevice.objects.filter(pk=device_id, user=request.user).only("status", "token_hash").first()
    if device is None or device.status != RegisteredDevice.Status.APPROVED or device.token_hash != device_token_hash:
        return "device"
    return None


def session_touch(request) -> None:
    seen_at = _read(request, SEEN_AT_KEY)
    if seen_at is None or timezone.now() - seen_at >= SEEN_AT_RESOLUTION:
        request.session[SEEN_AT_KEY] = _stamp()


def fresh_login(request, *, minutes: int | None = None) -> bool:
    """True when the password and OTP were proven less than `minutes` ago (default PRAHARI_FRESH_LOGIN_MINUTES):
    a login exactly that old is no longer fresh."""
    auth_at = _read(request, AUTH_AT_KEY)
    limit = timedelta(minutes=minutes or settings.PRAHARI_FRESH_LOGIN_MINUTES)
    return auth_at is not None and timezone.now() - auth_at < limit


def step_up_is_fresh(request) -> bool:
    """True when an OTP was proven (at login or step-up) less than PRAHARI_STEP_UP_MINUTES ago: the window
    ends at exactly that age (SECURITY.md: a fresh OTP within 5 minutes)."""
    stamps = [t for t in (_read(request, STEP_UP_AT_KEY), _read(request, AUTH_AT_KEY)) if t is not None]
    limit = timedelta(minutes=settings.PRAHARI_STEP_UP_MINUTES)
    return bool(stamps) and timezone.now() - max(stamps) < limit


def step_up_record(request) -> None:
    """A fresh OTP was proven: rotate the session key and stamp the time."""
    request.session.cycle_key()
    request.session[STEP_UP_AT_KEY] = _stamp()
    event_record(
        type=AccountEventType.STEP_UP_SUCCEEDED, actor=request.user, subject=request.user, ip=client_ip(request)
    )
