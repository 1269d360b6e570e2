"""The login gate of ARCHITECTURE.md §4: password → OTP → account state → device → session.

Until password and OTP are both proven, every failure looks the same (same page, same status,
a password hash computed either way). Afterwards the person is told their real state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.login.failures import door_read, failure_counted, login_is_barred
from accounts.login.lockouts import failures_seen
from accounts.login.session import session_start
from accounts.models import AccountEventType, RegisteredDevice, Status, User
from accounts.request_info import client_ip
from accounts.services.devices import device_find_and_touch, device_register, device_token_new
from accounts.services.events import event_record
from accounts.services.lockouts import login_failure_record, login_failures_reset, login_is_held
from accounts.services.notifications import notify
from accounts.services.otp import otp_verify
from accounts.services.passkeys import codes_refused, passkey_authenticate

PENDING_KEY = "_prahari_login"


@dataclass
class Pending:
    """Password proven, OTP awaited: kept in the (anonymous) session for PRAHARI_LOGIN_ATTEMPT_MINUTES."""

    user: User
    attempt_id: str
    next_url: str | None = None  # where the person was going, once signed in


def _equalise_timing(password: str) -> None:
    """Spend one password hash, so a refusal that needed none takes as long as a wrong password."""
    make_password(password or "")


def password_check(request, *, username: str, password: str) -> User | None:
    """Return the user when the password is right and nothing bars a login; None for every kind of failure."""
    ip = client_ip(request)
    door = door_read(request, username=username, ip=ip)  # with axes' count, which its lock check below takes
    user = door.user
    category = None
    if door.ip_blocked:
        category = "ip_blocked"
    elif login_is_held(user):
        category = "held"
    if category:
        _equalise_timing(password)
        login_failure_record(user=user, category=category, ip=ip)
        return None
    # With the account already read, GateAccountBackend checks the password on it (no second read).
    authenticated = authenticate(request, username=user.username if user else username, password=password, account=user)
    if authenticated is None:
        if getattr(request, "axes_locked_out", False):
            category = "locked"
            _equalise_timing(password)  # axes refused before any hash was computed
        elif user is None:
            category = "unknown_user"
        elif not user.is_active:
            category = "inactive"
        else:
            category = "wrong_password"
        login_failure_record(user=user, category=category, ip=ip)
        return None
    return authenticated


def pending_begin(request, user: User, *, next_url: str | None = None) -> None:
    if request.session.session_key:  # a session that existed before the password is rotated (no fixation)
        request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "attempt": secrets.token_hex(16),
        "started": timezone.now().isoformat(),
        "next": next_url,
    }


def pending_get(request) -> Pending | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    try:
        started = datetime.fromisoformat(data["started"])
    except (KeyError, TypeError, ValueError):
        return None
    if timezone.now() - started > timedelta(minutes=settings.PRAHARI_LOGIN_ATTEMPT_MINUTES):
        pending_clear(request)
        return None
    user = door_read(request, pk=data["user"]).user if data.get("user") is not None else None  # with axes'
    # count of the name, which `pending_is_barred` takes
    return Pending(user=user, attempt_id=data["attempt"], next_url=data.get("next")) if user else None


def pending_clear(request) -> None:
    request.session.pop(PENDING_KEY, None)


def pending_is_barred(request, pending: Pending) -> bool:
    """A lock or hold that arrived after the password step (e.g. failures elsewhere) ends this attempt too."""
    return login_is_barred(request, pending.user)


def otp_failure(request, pending: Pending, *, method: str) -> bool:
    """Count a wrong code with django-axes; return True when the account is now locked."""
    if failure_counted(request, user=pending.user, category=f"otp_{method}"):
        pending_clear(request)
        return True
    return False


@dataclass
class Outcome:
    """What happened after password and OTP: `signed_in`, or a state to tell the person."""

    kind: str  # signed_in | account_state | device_pending | device_refused
    user: User
    device: RegisteredDevice | None = None
    new_token: str | None = None  # set when the browser needs a (new) device cookie
    sessions_ended: int = 0


def code_finish(request, pending: Pending, *, method: str, token: str, device_token: str | None) -> Outcome | None:
    """Verify the code of `method`; when it is right, `finish`, in the same transaction. None for a wrong code.

    django-otp's record of the code's use (`last_t`, its throttling) commits with the sign-in it opened.
    """
    if codes_refused(pending.user):  # a passkey is this account's only second factor
        return None
    with transaction.atomic():
        device = otp_verify(user=pending.user, method=method, token=token, attempt_id=pending.attempt_id)
        return None if device is None else finish(request, pending, otp_device=device, device_token=device_token)


def passkey_finish(request, pending: Pending, *, state: dict | None, data: str, device_token: str | None) -> Outcome:
    """Verify the passkey's assertion (it stands in for the code), then `finish`. Raises PasskeyError (or
    PasskeyCloned: that passkey is suspended and alerted, committed although this sign-in fails)."""
    passkey = passkey_authenticate(user=pending.user, state=state, data=data, ip=client_ip(request))
    return finish(request, pending, otp_device=passkey, device_token=device_token)


@transaction.atomic(savepoint=False)  # called inside code_finish's transaction too: no savepoint of its own
def finish(request, pending: Pending, *, otp_device, device_token: str | None) -> Outcome:
    """Both factors are proven: check the account, then the device, then start the session.

    One transaction: the end of the older sessions, the new session's row (with the user), the events
    and the device stamp land together, and one commit instead of several keeps the gate's own cost
    small beside the password hash. The session middleware's save after it has nothing left to write.
    """
    pending_clear(request)
    user, ip = pending.user, client_ip(request)
    if user.status != Status.ACTIVE or not user.is_active:
        event_record(type=AccountEventType.LOGIN_REFUSED, actor=None, subject=user, ip=ip, data={"status": user.status})
        return Outcome("account_state", user)
    device = device_find_and_touch(user=user, token=device_token)  # an approved one is stamped as seen
    new_token = None
    if device is None or device.status in (RegisteredDevice.Status.REJECTED, RegisteredDevice.Status.REVOKED):
        if device is not None or not device_token:
            device_token = new_token = device_token_new()
        device = device_register(
            user=user, token=device_token, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
    if device.status == RegisteredDevice.Status.PENDING:
        event_record(
            type=AccountEventType.LOGIN_REFUSED,
            actor=None,
            subject=user,
            ip=ip,
            data={"status": "device_pending", "device": device.pk},
        )
        return Outcome("device_pending", user, device=device, new_token=new_token)
    ended = session_start(request, user=user, device=device, otp_device=otp_device)
    login_failures_reset(user=user, none_counted=failures_seen(request, user.username) == 0)
    event_record(
        type=AccountEventType.LOGIN_SUCCEEDED,
        actor=user,
        subject=user,
        ip=ip,
        data={"device": device.pk, "otp": type(otp_device).__name__, "sessions_ended": ended},
    )
    if ended:
        notify(
            user=user,
            kind="session_ended_elsewhere",
            idempotency_key=f"session_ended:{request.session.session_key}",
            context={},
            channels=("sms",),
        )
    request.session.save()
    return Outcome("signed_in", user, device=device, sessions_ended=ended)
