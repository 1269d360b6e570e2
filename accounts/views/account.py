"""The person's own credentials: password change and reset, the security page (OTP devices, backup
codes, mobile number). The rules live in `accounts.services.credentials`; these views only ask and answer.

Every change on the security page needs a fresh full login (SECURITY.md §OTP): without one the session
ends and the person signs in again, then comes back here.
"""

from __future__ import annotations

import base64
import hashlib
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.exceptions import DomainError
from accounts.forms import (
    CodeForm,
    MobileForm,
    PasswordChangeForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    SMSCodeForm,
)
from accounts.login.failures import failure_counted, login_is_locked
from accounts.login.session import fresh_login, session_end
from accounts.models import AccountEventType, SMSDevice
from accounts.request_info import client_ip
from accounts.services import credentials, passkeys, passwords
from accounts.services.events import event_record
from accounts.services.lockouts import login_is_held
from accounts.services.otp import (
    BACKUP_DEVICE_NAME,
    login_otp_devices,
    otp_sms_send,
    otp_verify,
    totp_enrol_confirm,
    totp_enrol_start,
)
from accounts.sms import SMSDeliveryError, mask_mobile
from accounts.views.login import _qr_data_uri

# --- Password change ----------------------------------------------------------------------------------


def _wrong_password(request) -> bool:
    """Count a wrong current password like a failed login (django-axes); True when the account is now locked."""
    return failure_counted(request, user=request.user, category="password_change")


@never_cache
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ended = passwords.password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                keep_session_key=request.session.session_key,
                ip=client_ip(request),
            )
        except passwords.WrongPassword as error:
            if _wrong_password(request):
                session_end(request, reason="locked")
                messages.error(request, _("Too many failed attempts. You have been signed out."))
                return redirect("accounts:login")
            form.add_error("old_password", str(error))
        except DomainError as error:
            form.add_error("new_password1", str(error))
        else:
            update_session_auth_hash(request, request.user)  # this session stays (and gets a new key)
            messages.success(request, _("Your password has been changed."))
            if ended:
                messages.info(request, _("Your other sessions have been ended."))
            return redirect("home")
    return render(request, "accounts/password_change.html", {"form": form})


# --- Password reset -----------------------------------------------------------------------------------


@never_cache
@login_not_required
@sensitive_post_parameters("username_or_email")
@require_http_methods(["GET", "POST"])
def password_reset_request(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        passwords.password_reset_request(
            username_or_email=form.cleaned_data["username_or_email"],
            base_url=request.build_absolute_uri("/"),
            ip=client_ip(request),
        )
        return redirect("accounts:password-reset-sent")  # the same answer whether or not an account matched
    return render(request, "accounts/password_reset_request.html", {"form": form})


@never_cache
@login_not_required
def password_reset_sent(request):
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    return render(request, "accounts/password_reset_sent.html", {"minutes": minutes})


def _reset_attempt_id(token: str) -> str:
    """Bind an SMS code to this reset link, as a login binds it to its attempt."""
    return hashlib.sha256(f"prahari-reset:{token}".encode()).hexdigest()[:32]


def _reset_locked(request, user) -> bool:
    return login_is_held(user) or login_is_locked(request, user.username)


@never_cache
@login_not_required
@sensitive_post_parameters("new_password1", "new_password2", "token", "backup_code")
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request, uidb64: str, token: str):
    """New password and a one-time code: a reset link alone never opens an account (ASVS 6.4.3)."""
    template = "accounts/password_reset_confirm.html"
    user = passwords.password_reset_user(uidb64=uidb64, token=token)
    if user is None:
        return render(request, template, {"validlink": False}, status=400)
    if passkeys.codes_refused(user):  # a passkey is the only second factor: its governor's withdrawal comes first
        return render(request, template, {"validlink": True, "passkey_only": True}, status=403)
    devices = login_otp_devices(user)
    if not devices:
        return render(request, template, {"validlink": True, "no_devices": True}, status=403)
    form = PasswordResetConfirmForm(request.POST or None, user=user, methods=list(devices))
    if request.method == "POST":
        response = _reset_post(request, user, form, attempt_id=_reset_attempt_id(token))
        if response is not None:
            return response
    return render(request, template, {"validlink": True, "form": form, "has_sms": "sms" in devices})


def _reset_post(request, user, form: PasswordResetConfirmForm, *, attempt_id: str):
    """Act on one POST of the reset page: the response to send, or None to show the form again.

    A wrong code changes nothing and counts with the login failures; a locked account may not try.
    """
    ip = client_ip(request)
    if _reset_locked(request, user):
        messages.error(request, _("Too many failed attempts. Try again later, or ask your supervisor."))
        return None
    if "send_sms" in request.POST:
        try:
            otp_sms_send(user=user, attempt_id=attempt_id, ip=ip)
            messages.info(request, _("A code was sent to your registered mobile number."))
        except (DomainError, SMSDeliveryError) as error:
            messages.error(request, _sms_error(error))
        return redirect(request.path)
    if not form.is_valid():
        return None
    method, code = form.cleaned_data["method"], form.cleaned_data["token"]
    if otp_verify(user=user, method=method, token=code, attempt_id=attempt_id) is None:
        failure_counted(request, user=user, category="otp_reset")
        form.code_error(_("That code is not right, or it has expired."))
        return None
    try:
        passwords.password_reset_complete(user=user, new_password=form.cleaned_data["new_password1"], ip=ip)
    except DomainError as error:
        form.add_error("new_password1", str(error))
        return None
    request.session.flush()  # whatever session this browser had ended with the others
    messages.success(request, _("Your password has been changed. Sign in with your new password."))
    return redirect("accounts:login")


def _sms_error(error: Exception) -> str:
    return str(error) if isinstance(error, DomainError) else _("The SMS could not be sent. Try again later.")


# --- Security page ------------------------------------------------------------------------------------


def _reauthenticate(request, next_url: str):
    session_end(request, reason="reauthenticate")
    messages.warning(request, _("For your safety, sign in again to change this."))
    return redirect(f"{reverse('accounts:login')}?next={quote(next_url)}")


def fresh_login_required(view):
    """Let the view run only within PRAHARI_FRESH_LOGIN_MINUTES of the login; otherwise sign in again."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not fresh_login(request):
            return _reauthenticate(request, request.path if request.method == "GET" else reverse("accounts:security"))
        return view(request, *args, **kwargs)

    return wrapped


def _security_context(request, **extra) -> dict:
    user = request.user
    devices = login_otp_devices(user)
    backup = StaticDevice.objects.filter(user=user, name=BACKUP_DEVICE_NAME).first()
    sms_pending = SMSDevice.objects.filter(
        user=user, confirmed=False, name=credentials.SMS_DEVICE_NAME, valid_until__gt=timezone.now()
    ).exclude(token=None)
    context = {
        "totp": devices.get("totp"),
        "sms": devices.get("sms"),
        "sms_number": mask_mobile(devices["sms"].number) if "sms" in devices else "",
        "login_methods": sum(1 for m in credentials.LOGIN_METHODS if m in devices),
        "has_backup": backup is not None,
        "backup_left": backup.token_set.count() if backup else 0,
        "mobile": mask_mobile(user.mobile),
        "mobile_pending": credentials.mobile_change_pending(user),
        "sms_pending": sms_pending.exists(),
        "fresh": fresh_login(request),
        "fresh_minutes": settings.PRAHARI_FRESH_LOGIN_MINUTES,
        "mobile_form": MobileForm(),
        "mobile_code_form": SMSCodeForm(prefix="mobile"),
        "sms_code_form": SMSCodeForm(prefix="sms"),
        "passkeys": passkeys.passkey_list_for_user(user=user),
        "passkey_history": passkeys.passkey_history(user=user, limit=10),
        "passkey_required": passkeys.passkey_required(user),
        "passkey_deadline": passkeys.passkey_deadline(),
    }
    context.update(extra)
    return context


@never_cache
@require_http_methods(["GET"])
def security(request):
    return render(request, "accounts/security.html", _security_context(request))


@never_cache
@require_http_methods(["GET", "POST"])
def mobile_change(request):
    """Step 1 of a new mobile number: send a code to it (the change happens in `mobile_change_confirm`)."""
    if request.method == "GET":
        return render(request, "accounts/security.html", _security_context(request))
    if not fresh_login(request):
        return _reauthenticate(request, reverse("accounts:mobile-change"))
    form = MobileForm(request.POST)
    if form.is_valid():
        try:
            credentials.mobile_change_start(
                user=request.user, new_mobile=form.cleaned_data["new_mobile"], ip=client_ip(request)
            )
        except (DomainError, SMSDeliveryError) as error:
            form.add_error("new_mobile", _sms_error(error))
        else:
            messages.info(request, _("We sent a code to your new number. Enter it below to finish the change."))
            return redirect(reverse("accounts:security") + "#mobile")
    return render(request, "accounts/security.html", _security_context(request, mobile_form=form))


@never_cache
@require_POST
@fresh_login_required
@sensitive_post_parameters("mobile-token")
def mobile_change_confirm(request):
    form = SMSCodeForm(request.POST, prefix="mobile")
    try:
        done = form.is_valid() and credentials.mobile_change_confirm(
            user=request.user, token=form.cleaned_data["token"], ip=client_ip(request)
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("accounts:security")
    if done:
        messages.success(request, _("Your mobile number has been changed. We told both numbers."))
    else:
        messages.error(request, _("That code is not right, or it has expired."))
    return redirect(reverse("accounts:security") + "#mobile")


@never_cache
@require_POST
@fresh_login_required
def totp_add(request):
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        messages.error(request, _("You already have an authenticator app. Remove it first to set up a new one."))
        return redirect("accounts:security")
    totp_enrol_start(user=request.user)
    return redirect("accounts:security-totp")


@never_cache
@require_http_methods(["GET", "POST"])
@fresh_login_required
@sensitive_post_parameters("totp-token")
def totp_confirm(request):
    """Show the new authenticator's QR code and key; confirm it with a code from the app."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        return redirect("accounts:security")
    form = CodeForm(request.POST or None, prefix="totp")
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        if totp_enrol_confirm(device=device, token=form.cleaned_data["token"], ip=ip):
            messages.success(request, _("Your authenticator app is set up."))
            return redirect("accounts:security")
        event_record(
            type=AccountEventType.OTP_FAILED,
            actor=request.user,
            subject=request.user,
            ip=ip,
            data={"category": "enrol_totp"},
        )
        form.add_error("token", _("That code is not right. Check the time on your phone and try again."))
    enrol = {"form": form, "qr": _qr_data_uri(device.config_url), "secret": base64.b32encode(device.bin_key).decode()}
    return render(request, "accounts/security.html", _security_context(request, totp_enrol=enrol))


@never_cache
@require_POST
@fresh_login_required
def sms_add(request):
    try:
        credentials.sms_device_enrol_start(user=request.user, ip=client_ip(request))
    except (DomainError, SMSDeliveryError) as error:
        messages.error(request, _sms_error(error))
    else:
        messages.info(
            request, _("We sent a code to %(number)s. Enter it below.") % {"number": mask_mobile(request.user.mobile)}
        )
    return redirect(reverse("accounts:security") + "#sms")


@never_cache
@require_POST
@fresh_login_required
@sensitive_post_parameters("sms-token")
def sms_confirm(request):
    form = SMSCodeForm(request.POST, prefix="sms")
    if form.is_valid() and credentials.sms_device_enrol_confirm(
        user=request.user, token=form.cleaned_data["token"], ip=client_ip(request)
    ):
        messages.success(request, _("SMS codes are on."))
    else:
        messages.error(request, _("That code is not right, or it has expired."))
    return redirect(reverse("accounts:security") + "#sms")


@never_cache
@require_POST
@fresh_login_required
def otp_remove(request, method: str):
    if method not in ("totp", "sms", "backup"):
        messages.error(request, _("Unknown kind of one-time code."))
        return redirect("accounts:security")
    try:
        credentials.otp_device_remove(user=request.user, method=method, ip=client_ip(request))
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("accounts:security")
    session_device = request.session.get(DEVICE_ID_SESSION_KEY)
    if session_device and Device.from_persistent_id(session_device) is None:
        # This session was verified with the removed device: sign in again with a remaining one.
        session_end(request, reason="reauthenticate")
        messages.info(request, _("Removed. Sign in again with one of your remaining ways to get a code."))
        return redirect("accounts:login")
    messages.success(request, _("Removed."))
    return redirect("accounts:security")


@never_cache
@require_POST
@fresh_login_required
def backup_codes(request):
    """Make new backup codes and show them once; the old ones stop working."""
    codes = credentials.backup_codes_regenerate(user=request.user, ip=client_ip(request))
    return render(request, "accounts/backup_codes.html", {"codes": codes})
