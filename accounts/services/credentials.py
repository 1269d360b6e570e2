"""Credentials a person changes themselves: mobile number and OTP devices (passwords: passwords.py).

SECURITY.md §Passwords and §OTP. Each function owns its whole change: it locks the account row,
saves, records the AccountEvent (never a password, code, token or full number) and queues the
notification in the same transaction. Views check `fresh_login` before the OTP and mobile changes.

A mobile number is proven before it is used: an SMS authenticator is confirmed, and a new mobile
number is accepted, only with a code sent to that number (`sms_device_enrol_*`, `mobile_change_*`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.exceptions import DomainError
from accounts.models import AccountEvent, AccountEventType, SMSDevice, User
from accounts.models.user import mobile_validator
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.otp import BACKUP_DEVICE_NAME, backup_codes_generate, otp_send_budget_check
from accounts.sms import mask_mobile, send_sms

SMS_DEVICE_NAME = "mobile"
MOBILE_PROOF_NAME = "new mobile (unconfirmed)"  # holds the code sent to a number not yet the account's
LOGIN_METHODS = ("totp", "sms")  # the ways to log in a user must keep one of (backup codes run out)


def credentials_lock(user: User) -> None:
    """Serialise credential changes of one account (two removals must not both pass the last-device check)."""
    User.objects.select_for_update().filter(pk=user.pk).exists()


# --- Codes sent to a number that must be proven ------------------------------------------------------


def _code_prepare(device: SMSDevice, *, user: User, ip, purpose: str) -> tuple[str, str]:
    """Put a fresh code on `device`; return the number and text to send after the transaction.

    Shares the login's budget of SMS sends (OTP_SMS_SENT events); raises DomainError past it.
    """
    otp_send_budget_check(user=user)
    device.generate_token(length=6, valid_secs=settings.PRAHARI_SMS_CODE_MINUTES * 60, commit=False)
    # PRAHARI_SMS_CODE_TRIES per code: the send budget above bounds the guesses, and a proof that
    # failed 5 times must not lock the person out of ever adding this number.
    device.throttle_reset(commit=False)
    device.attempt_id = ""
    device.save()
    event_record(type=AccountEventType.OTP_SMS_SENT, actor=user, subject=user, ip=ip, data={"purpose": purpose})
    text = _("Prahari code %(code)s. Valid %(minutes)d minutes. Never share it.") % {
        "code": device.token,
        "minutes": settings.PRAHARI_SMS_CODE_MINUTES,
    }
    return device.number, text


def _code_check(device: SMSDevice, token: str, *, user: User, ip, purpose: str) -> bool:
    """True when `token` is the code on `device`; at most PRAHARI_SMS_CODE_TRIES tries, then it is burned.

    A wrong code records OTP_FAILED. Call inside a transaction.
    """
    device = SMSDevice.objects.select_for_update().get(pk=device.pk)
    token = "".join((token or "").split())
    allowed, _detail = device.verify_is_allowed()
    if device.throttling_failure_count >= settings.PRAHARI_SMS_CODE_TRIES:
        device.token, device.valid_until = None, timezone.now()
        device.save(update_fields=["token", "valid_until"])
    elif token and allowed and device.verify_token(token):
        device.throttle_reset()
        return True
    device.throttle_increment()
    event_record(type=AccountEventType.OTP_FAILED, actor=user, subject=user, ip=ip, data={"category": f"{purpose}_sms"})
    return False


# --- SMS authenticator --------------------------------------------------------------------------------


def sms_device_enrol_start(*, user: User, ip=None) -> None:
    """Text a code to `user.mobile` to prove it before it becomes an SMS authenticator.

    Records OTP_SMS_SENT. Raises DomainError without a mobile number, with an SMS authenticator
    already, or past the SMS send limit; SMSDeliveryError when the gateway refuses.
    """
    send_sms(*_sms_enrol_prepare(user=user, ip=ip))


@transaction.atomic
def _sms_enrol_prepare(*, user: User, ip) -> tuple[str, str]:
    credentials_lock(user)
    user.refresh_from_db(fields=["mobile"])
    if not user.mobile:
        raise DomainError(_("Add your mobile number first."))
    if SMSDevice.objects.filter(user=user, confirmed=True).exists():
        raise DomainError(_("SMS codes are already on for this account."))
    device = SMSDevice.objects.filter(user=user, confirmed=False, name=SMS_DEVICE_NAME).first() or SMSDevice(
        user=user, name=SMS_DEVICE_NAME, confirmed=False
    )
    device.number = user.mobile
    return _code_prepare(device, user=user, ip=ip, purpose="sms_enrol")


@transaction.atomic
def sms_device_enrol_confirm(*, user: User, token: str, ip=None) -> bool:
    """Confirm the SMS authenticator when `token` is the code sent to the mobile; False otherwise.

    Records OTP_DEVICE_ADDED and notifies "otp_device_changed" (added); a wrong code records OTP_FAILED.
    """
    credentials_lock(user)
    user.refresh_from_db(fields=["mobile"])
    device = SMSDevice.objects.filter(user=user, confirmed=False, name=SMS_DEVICE_NAME).first()
    if device is None or device.number != user.mobile:
        return False
    if not _code_check(device, token, user=user, ip=ip, purpose="enrol"):
        return False
    SMSDevice.objects.filter(pk=device.pk).update(confirmed=True, attempt_id="")
    event = event_record(
        type=AccountEventType.OTP_DEVICE_ADDED, actor=user, subject=user, ip=ip, data={"method": "sms"}
    )
    notify(user=user, kind="otp_device_changed", idempotency_key=f"otp_device:{event.pk}", context={"action": "added"})
    return True


# --- Mobile number ------------------------------------------------------------------------------------


def _mobile_clean(new_mobile: str, user: User) -> str:
    number = "".join((new_mobile or "").split())
    try:
        mobile_validator(number)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None
    if number == user.mobile:
        raise DomainError(_("That is already your mobile number."))
    if User.objects.filter(mobile=number).exclude(pk=user.pk).exists():
        raise DomainError(_("That mobile number belongs to another account."))
    return number


def mobile_change_start(*, user: User, new_mobile: str, ip=None) -> None:
    """Text a code to `new_mobile` to prove it; `mobile_change_confirm` then makes it the account's number.

    Records OTP_SMS_SENT. Raises DomainError for a malformed number, one taken by another account,
    or past the SMS send limit; SMSDeliveryError when the gateway refuses.
    """
    send_sms(*_mobile_change_prepare(user=user, new_mobile=new_mobile, ip=ip))


@transaction.atomic
def _mobile_change_prepare(*, user: User, new_mobile: str, ip) -> tuple[str, str]:
    credentials_lock(user)
    user.refresh_from_db(fields=["mobile"])
    number = _mobile_clean(new_mobile, user)
    SMSDevice.objects.filter(user=user, name=MOBILE_PROOF_NAME).delete()
    device = SMSDevice(user=user, name=MOBILE_PROOF_NAME, confirmed=False, number=number)
    return _code_prepare(device, user=user, ip=ip, purpose="mobile_change")


def mobile_change_pending(user: User) -> str | None:
    """The masked new number awaiting its code, or None."""
    device = SMSDevice.objects.filter(user=user, name=MOBILE_PROOF_NAME, token__isnull=False).first()
    return mask_mobile(device.number) if device and device.valid_until > timezone.now() else None


@transaction.atomic
def mobile_change_confirm(*, user: User, token: str, ip=None) -> bool:
    """Change the mobile number to the one `token` was sent to (see `mobile_change`); False for a wrong code."""
    credentials_lock(user)
    device = SMSDevice.objects.filter(user=user, name=MOBILE_PROOF_NAME).first()
    if device is None or not _code_check(device, token, user=user, ip=ip, purpose="mobile_change"):
        return False
    device.delete()
    mobile_change(user=user, new_mobile=device.number, ip=ip)
    return True


@transaction.atomic
def mobile_change(*, user: User, new_mobile: str, ip) -> None:
    """Make `new_mobile` the account's number (and its SMS authenticator's), with history.

    Records MOBILE_CHANGED with masked numbers only and notifies "mobile_changed" to the old and the
    new number (and the e-mail). Raises DomainError for a malformed number or one taken by another account.
    """
    credentials_lock(user)
    user.refresh_from_db()
    number = _mobile_clean(new_mobile, user)
    old = user.mobile
    user.mobile = number
    user._history_user = user
    user._change_reason = "mobile number changed by the account holder"
    try:
        with transaction.atomic():
            user.save(update_fields=["mobile"])
    except IntegrityError:
        raise DomainError(_("That mobile number belongs to another account.")) from None
    SMSDevice.objects.filter(user=user, confirmed=True).update(number=number, token=None, attempt_id="")
    event = event_record(
        type=AccountEventType.MOBILE_CHANGED,
        actor=user,
        subject=user,
        ip=ip,
        data={"old": mask_mobile(old), "new": mask_mobile(number)},
    )
    for to in (old, number):
        notify(
            user=user,
            kind="mobile_changed",
            idempotency_key=f"mobile_changed:{event.pk}",
            context={"masked": mask_mobile(number)},
            to_mobile=to,
        )


# --- Removing authenticators, backup codes -------------------------------------------------------------


def _devices_of(user: User, method: str):
    if method == "totp":
        return TOTPDevice.objects.filter(user=user)
    if method == "sms":
        return SMSDevice.objects.filter(user=user).exclude(name=MOBILE_PROOF_NAME)
    if method == "backup":
        return StaticDevice.objects.filter(user=user, name=BACKUP_DEVICE_NAME)
    raise DomainError(_("Unknown kind of one-time code."))


@transaction.atomic
def otp_device_remove(*, user: User, method: str, ip) -> None:
    """Remove `user`'s authenticator app ("totp"), SMS codes ("sms") or backup codes ("backup").

    Refuses to remove the last confirmed authenticator app or SMS device: a user keeps one way to
    log in. Records OTP_DEVICE_REMOVED and notifies "otp_device_changed" (removed). Raises DomainError.
    """
    credentials_lock(user)
    devices = _devices_of(user, method)
    if not devices.filter(confirmed=True).exists():
        raise DomainError(_("There is nothing to remove."))
    if method in LOGIN_METHODS:
        others = [m for m in LOGIN_METHODS if m != method and _devices_of(user, m).filter(confirmed=True).exists()]
        if not others:
            raise DomainError(
                _("This is your only way to receive a sign-in code. Add another one before you remove it.")
            )
    devices.delete()
    event = event_record(
        type=AccountEventType.OTP_DEVICE_REMOVED, actor=user, subject=user, ip=ip, data={"method": method}
    )
    notify(
        user=user, kind="otp_device_changed", idempotency_key=f"otp_device:{event.pk}", context={"action": "removed"}
    )


@transaction.atomic
def backup_codes_regenerate(*, user: User, ip) -> list[str]:
    """Replace the backup codes (see `backup_codes_generate`) and notify "otp_device_changed" (added).

    Returns the new codes, to be shown once.
    """
    credentials_lock(user)
    codes = backup_codes_generate(user=user, ip=ip)
    event = AccountEvent.objects.filter(subject=user, type=AccountEventType.BACKUP_CODES_GENERATED).order_by("-pk")[0]
    notify(
        user=user, kind="otp_device_changed", idempotency_key=f"backup_codes:{event.pk}", context={"action": "added"}
    )
    return codes
