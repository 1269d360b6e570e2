"""One-time codes, wrapped around django-otp: which devices a login may use, SMS codes, backup codes, enrolment.

django-otp does the verification (TOTP `last_t` against replay, ThrottlingMixin back-off); this
module adds the rules of SECURITY.md §OTP that it leaves to the project: SMS codes bound to one
login attempt, 5 tries, 3 sends per 15 minutes; backup codes kept only as hashes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.exceptions import DomainError
from accounts.models import AccountEvent, AccountEventType, SMSDevice, User
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.passkeys import codes_refused
from accounts.services.setsql import queryset_sql
from accounts.sms import SMSDeliveryError, send_sms

logger = logging.getLogger(__name__)
METHODS = ("totp", "sms", "email", "backup")
BACKUP_DEVICE_NAME = "backup codes"
TOTP_DEVICE_NAME = "authenticator app"


def _login_method_open(method: str | None) -> bool:
    """Whether a login may use codes of `method` at all (e-mail codes only with PRAHARI_OTP_EMAIL_ENABLED)."""
    return method in ("totp", "sms", "backup") or (method == "email" and settings.PRAHARI_OTP_EMAIL_ENABLED)


def _login_otp_queryset(user: User | int, method: str | None):
    """The confirmed devices of `method` a login may use, the one to use first; None for no such method."""
    if not _login_method_open(method):
        return None  # no such method, or e-mail codes, off by default (NIST 63B rev 4 forbids them)
    if method == "backup":
        return StaticDevice.objects.filter(user=user, confirmed=True, name=BACKUP_DEVICE_NAME).order_by("pk")
    model = {"totp": TOTPDevice, "sms": SMSDevice, "email": EmailDevice}[method]
    return model.objects.filter(user=user, confirmed=True).order_by("pk")


def login_otp_device(user: User, method: str | None) -> Device | None:
    """The device `login_otp_devices(user)` would give for `method`, read alone (one query; backup codes two)."""
    queryset = _login_otp_queryset(user, method)
    device = queryset.first() if queryset is not None else None
    if method == "backup" and device is not None and not device.token_set.exists():
        return None  # every backup code is used up
    return device


def login_otp_devices(user: User) -> dict[str, Device]:
    """The confirmed OTP devices a login may use, by method (e-mail codes only with PRAHARI_OTP_EMAIL_ENABLED)."""
    devices: dict[str, Device] = {}
    for method in METHODS:
        device = login_otp_device(user, method)
        if device is not None:
            devices[method] = device
    return devices


def otp_verify(
    *, user: User, method: str, token: str, attempt_id: str, devices: dict[str, Device] | None = None
) -> Device | None:
    """Return the device that accepts `token`, or None. Never raises for a wrong code.

    TOTP: django-otp refuses a code already used (`last_t`) and throttles. SMS: the code must
    belong to this login attempt, and after PRAHARI_SMS_CODE_TRIES failures it is burned.
    Backup: the code is hashed, then matched once. `devices`: the caller's `login_otp_devices(user)`, or
    the part of it it has read; without it the device of `method` is read here, an authenticator's
    (or e-mail) device only once: locked, in the transaction that verifies the code.
    """
    token = "".join((token or "").split())
    if not token or codes_refused(user):  # a passkey is this account's only second factor: no code counts
        return None
    if devices is not None or method in ("sms", "backup"):
        device = devices.get(method) if devices is not None else login_otp_device(user, method)
        if device is None:
            return None
        if method == "sms":
            return device if _sms_verify(device, token, attempt_id) else None
        queryset = type(device).objects.filter(pk=device.pk)
    elif _login_method_open(method):
        queryset = None  # its device is read once, locked, below (`_login_device_locked`)
    else:
        return None  # not a method a login may use
    if method == "backup":
        token = backup_code_hash(token)
    with transaction.atomic(savepoint=False):  # (inside the login's own transaction, no savepoint)
        device = _login_device_locked(user, method) if queryset is None else queryset.select_for_update().first()
        return device if device is not None and device.verify_token(token) else None


_ANY_USER = -1  # no account's id: marks the place of the account's id in a statement compiled once
_LOCKED_READS: dict[str, tuple] = {}  # method -> (model, SELECT … FOR UPDATE, its parameters, the id's place)


def _login_device_locked(user: User, method: str) -> Device | None:
    """The device `login_otp_device(user, method)` gives, read locked (`select_for_update`), from a statement the
    ORM compiled once per method: it took the ORM longer to compile it at every login than to run it."""
    if method not in _LOCKED_READS:
        queryset = _login_otp_queryset(_ANY_USER, method).select_for_update()[:1]
        sql, params = queryset_sql(queryset)
        places = [i for i, param in enumerate(params) if param == _ANY_USER]
        _LOCKED_READS[method] = (queryset.model, sql, params, places[0]) if len(places) == 1 else None
    compiled = _LOCKED_READS[method]
    if compiled is None:  # the account's id is not one parameter of it: compiled each time
        return _login_otp_queryset(user, method).select_for_update().first()
    model, sql, params, place = compiled
    params = [user.pk if i == place else param for i, param in enumerate(params)]
    return next(iter(model.objects.raw(sql, params)), None)


def _sms_verify(device: SMSDevice, token: str, attempt_id: str) -> bool:
    with transaction.atomic():
        device = SMSDevice.objects.select_for_update().get(pk=device.pk)
        if not device.token or device.attempt_id != attempt_id:
            device.throttle_increment()
            return False
        if device.throttling_failure_count >= settings.PRAHARI_SMS_CODE_TRIES:
            device.token, device.valid_until = None, timezone.now()
            device.save(update_fields=["token", "valid_until"])
            return False
        allowed, _detail = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            device.throttle_reset(commit=False)
            device.attempt_id = ""
            device.save()
            return True
        device.throttle_increment()
        return False


def otp_send_budget_check(*, user: User) -> None:
    """Refuse (DomainError) a code send past PRAHARI_SMS_SENDS_PER_WINDOW in PRAHARI_SMS_SEND_WINDOW_MINUTES.

    Every code sent to a person (SMS or e-mail, at login or to prove a number) records OTP_SMS_SENT.
    """
    since = timezone.now() - timedelta(minutes=settings.PRAHARI_SMS_SEND_WINDOW_MINUTES)
    sent = AccountEvent.objects.filter(subject=user, type=AccountEventType.OTP_SMS_SENT, created_at__gte=since)
    if sent.count() >= settings.PRAHARI_SMS_SENDS_PER_WINDOW:
        raise DomainError(
            _("Too many codes were sent. Wait %(minutes)d minutes, or use your authenticator app.")
            % {"minutes": settings.PRAHARI_SMS_SEND_WINDOW_MINUTES}
        )


def otp_sms_send(*, user: User, attempt_id: str, ip: str | None) -> None:
    """Send a fresh 6-digit code, valid PRAHARI_SMS_CODE_MINUTES, bound to this attempt.

    At most PRAHARI_SMS_SENDS_PER_WINDOW sends per account in PRAHARI_SMS_SEND_WINDOW_MINUTES; a
    new code for the same attempt keeps the failure count (a new attempt, which needs the password
    again, starts from zero). Records OTP_SMS_SENT (never the code). Raises DomainError.
    """
    device = SMSDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise DomainError(_("This account has no phone for SMS codes. Use your authenticator app."))
    otp_send_budget_check(user=user)
    with transaction.atomic():
        device = SMSDevice.objects.select_for_update().get(pk=device.pk)
        device.generate_token(length=6, valid_secs=settings.PRAHARI_SMS_CODE_MINUTES * 60, commit=False)
        if device.attempt_id != attempt_id:
            device.throttle_reset(commit=False)  # tries are counted per attempt (and by axes across attempts)
        device.attempt_id = attempt_id
        device.save()
        event_record(type=AccountEventType.OTP_SMS_SENT, actor=user, subject=user, ip=ip)
        code = device.token
    text = _("Prahari code %(code)s. Valid %(minutes)d minutes. Never share it.") % {
        "code": code,
        "minutes": settings.PRAHARI_SMS_CODE_MINUTES,
    }
    try:
        send_sms(device.number, text)
    except SMSDeliveryError:
        logger.warning("OTP SMS to user %s could not be delivered", user.pk)
        raise DomainError(_("The SMS could not be sent just now. Use your authenticator app, or try again.")) from None


def otp_email_send(*, user: User, ip: str | None) -> None:
    """Send a code by e-mail (only where PRAHARI_OTP_EMAIL_ENABLED allows it), within the same budget as SMS.

    django-otp's EmailDevice generates, throttles and mails the code. Raises DomainError.
    """
    device = login_otp_devices(user).get("email")
    if device is None:
        raise DomainError(_("Codes by e-mail are not available. Use your authenticator app."))
    otp_send_budget_check(user=user)
    device.generate_challenge()
    event_record(type=AccountEventType.OTP_SMS_SENT, actor=user, subject=user, ip=ip, data={"channel": "email"})


def backup_code_hash(code: str) -> str:
    """The stored form of a backup code: 80 bits of SHA-256, base32 (StaticToken holds 16 characters). A code
    carries 120 random bits, so the fast hash is enough (ASVS V6.5.2 asks a salted slow hash below 112)."""
    normalised = "".join((code or "").split()).replace("-", "").lower()
    digest = hashlib.sha256(f"prahari-backup:{normalised}".encode()).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def _backup_code_new() -> str:
    raw = base64.b32encode(secrets.token_bytes(15)).decode().lower()  # 120 bits: 24 symbols, no padding
    return "-".join(raw[i : i + 6] for i in range(0, 24, 6))


@transaction.atomic
def backup_codes_generate(*, user: User, ip: str | None = None) -> list[str]:
    """Replace the user's backup codes with PRAHARI_BACKUP_CODES new ones; return them to show once.

    Only hashes are stored. Records BACKUP_CODES_GENERATED.
    """
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [_backup_code_new() for _ in range(settings.PRAHARI_BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=backup_code_hash(c)) for c in codes)
    event_record(type=AccountEventType.BACKUP_CODES_GENERATED, actor=user, subject=user, ip=ip)
    return codes


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """An unconfirmed authenticator for `user` (160-bit key); replaces an earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


@transaction.atomic
def totp_enrol_confirm(*, device: TOTPDevice, token: str, ip: str | None = None) -> bool:
    """Confirm the authenticator when `token` is right. Records OTP_DEVICE_ADDED and notifies the user."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed or not device.verify_token("".join((token or "").split())):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    user = device.user
    event_record(type=AccountEventType.OTP_DEVICE_ADDED, actor=user, subject=user, ip=ip, data={"method": "totp"})
    notify(
        user=user,
        kind="otp_device_changed",
        idempotency_key=f"otp_device_added:totp:{device.pk}",
        context={"action": "added"},
    )
    return True
