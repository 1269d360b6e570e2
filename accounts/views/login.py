"""Login pages: password, one-time code (or enrolment), then the device and account checks."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.exceptions import DomainError
from accounts.forms import CodeForm, OTPForm, PasswordForm
from accounts.login import flow
from accounts.login.device_cookie import device_token_read, device_token_write
from accounts.login.session import session_end
from accounts.request_info import client_ip
from accounts.services.otp import (
    METHODS,
    login_otp_devices,
    otp_email_send,
    otp_sms_send,
    totp_enrol_confirm,
    totp_enrol_start,
)
from accounts.services.passkeys import codes_refused, passkey_count


def _failure_message() -> str:
    return f"{_('Sign-in failed. Check your username and password, or wait a while and try again.')} {_lock_rule()}"


def _lock_rule() -> str:
    """The same words for everybody (no word of any account's lock): what a lock is and how its owner learns of it."""
    return _(
        "After %(failures)d failed tries an account is locked for %(minutes)d minutes and a text message tells "
        "its owner when to try again and whom to call."
    ) % {"failures": settings.AXES_FAILURE_LIMIT, "minutes": settings.PRAHARI_LOCKOUT_MINUTES}


def _safe_next(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("home")


@never_cache
@login_not_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_password(request):
    if request.user.is_authenticated:
        return redirect(_safe_next(request, request.GET.get("next")))
    form = PasswordForm(request.POST or None)
    failed = False
    if request.method == "POST" and form.is_valid():
        user = flow.password_check(
            request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if user is not None:
            flow.pending_begin(request, user, next_url=_safe_next(request, request.GET.get("next")))
            return redirect("accounts:login-otp")
        failed = True
        form = PasswordForm()  # nothing typed is echoed back: every failure renders the same page
    elif request.method == "POST":
        failed = True
        form = PasswordForm()
    context = {"form": form, "failed": failed, "lock_rule": _lock_rule() if failed else ""}
    return render(request, "accounts/login_password.html", context)


def _restart(request, message: str | None = None):
    flow.pending_clear(request)
    if message:
        messages.error(request, message)
    return redirect("accounts:login")


@never_cache
@login_not_required
@sensitive_post_parameters("token", "backup_code")
@require_http_methods(["GET", "POST"])
def login_otp(request):
    pending = flow.pending_get(request)
    if pending is None:
        return _restart(request, _("Your sign-in expired. Please start again."))
    if codes_refused(pending.user):  # a passkey is this account's only second factor: no code is read
        return _passkey_only(request)
    # A posted code names its method: otp_verify reads that one device, locked, as it verifies (one query).
    # The account's methods are read when the page is shown, or when the code named none of them.
    posted = OTPForm.posted_method(request.POST) if request.method == "POST" else None
    verifying = posted in METHODS
    devices = None if verifying else login_otp_devices(pending.user)
    has_passkey = not verifying and passkey_count(pending.user) > 0
    if devices is not None and not devices and not has_passkey:
        return redirect("accounts:login-enrol")
    form = OTPForm(request.POST or None, methods=[posted] if verifying else list(devices))
    if request.method == "POST" and "send_email" in request.POST:
        try:
            otp_email_send(user=pending.user, ip=client_ip(request))
            messages.info(request, _("A code was sent to your registered e-mail address."))
        except DomainError as error:
            messages.error(request, str(error))
        return redirect("accounts:login-otp")
    if request.method == "POST" and "send_sms" in request.POST:
        try:
            otp_sms_send(user=pending.user, attempt_id=pending.attempt_id, ip=client_ip(request))
            messages.info(request, _("A code was sent to your registered mobile number."))
        except DomainError as error:
            messages.error(request, str(error))
        return redirect("accounts:login-otp")
    if request.method == "POST" and flow.pending_is_barred(request, pending):
        return _restart(request, _failure_message())
    wrong_code = False
    if verifying and form.is_valid():
        method, token = form.cleaned_data["method"], form.cleaned_data["token"]
        outcome = flow.code_finish(
            request, pending, method=method, token=token, device_token=device_token_read(request)
        )
        if outcome is not None:
            return _respond(request, pending, outcome)
        devices = login_otp_devices(pending.user)
        if method in devices:  # not a method the account lacks: a wrong code
            if flow.otp_failure(request, pending, method=method):
                return _restart(request, _failure_message())
            wrong_code = True
    if verifying:  # the page is shown again: the same form, offering every method the account has
        devices = login_otp_devices(pending.user) if devices is None else devices
        if not devices:
            return redirect("accounts:login-enrol")
        if posted == "backup" and "backup" not in devices:  # used up: not a wrong code, nothing to count
            messages.error(request, _("No backup code is left on this account. Use another way to get a code."))
            form = OTPForm(methods=list(devices))
        else:
            form = OTPForm(request.POST, methods=list(devices))
    if wrong_code:
        form.is_valid()
        form.code_error(_("That code is not right, or it has expired."))
    context = {
        "form": form,
        "has_sms": "sms" in devices,
        "has_email": "email" in devices,
        "has_codes": bool(devices),
        "has_passkey": has_passkey or passkey_count(pending.user) > 0,
    }
    return render(request, "accounts/login_otp.html", context)


def _passkey_only(request):
    if request.method == "POST":
        messages.error(request, _("Your account signs in with its passkey only: one-time codes are not accepted."))
        return redirect("accounts:login-otp")
    return render(request, "accounts/login_otp.html", {"passkey_only": True, "has_passkey": True})


def _respond(request, pending, outcome):
    if outcome.kind == "signed_in":
        if outcome.sessions_ended:
            messages.warning(request, _("You were signed in elsewhere: that earlier session has been ended."))
        response = redirect(_safe_next(request, pending.next_url))
    elif outcome.kind == "account_state":
        response = render(request, "accounts/login_account_state.html", {"account": outcome.user}, status=403)
    else:
        response = render(request, "accounts/login_device_pending.html", {"device": outcome.device}, status=403)
    if outcome.new_token:
        device_token_write(response, outcome.new_token)
    return response


def _qr_data_uri(text: str) -> str:
    svg = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


@never_cache
@login_not_required
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def login_enrol(request):
    """No confirmed OTP device yet: enrol an authenticator app; nothing else is reachable."""
    pending = flow.pending_get(request)
    if pending is None:
        return _restart(request, _("Your sign-in expired. Please start again."))
    if login_otp_devices(pending.user):
        return redirect("accounts:login-otp")
    device = TOTPDevice.objects.filter(user=pending.user, confirmed=False).first() or totp_enrol_start(
        user=pending.user
    )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and flow.pending_is_barred(request, pending):
        return _restart(request, _failure_message())
    if request.method == "POST" and form.is_valid():
        if totp_enrol_confirm(device=device, token=form.cleaned_data["token"], ip=client_ip(request)):
            device.refresh_from_db()
            outcome = flow.finish(request, pending, otp_device=device, device_token=device_token_read(request))
            return _respond(request, pending, outcome)
        if flow.otp_failure(request, pending, method="totp_enrol"):
            return _restart(request, _failure_message())
        form.add_error("token", _("That code is not right. Check the time on your phone and try again."))
    secret = base64.b32encode(device.bin_key).decode()
    context = {"form": form, "qr": _qr_data_uri(device.config_url), "secret": secret}
    return render(request, "accounts/login_enrol.html", context)


@require_POST
def logout_view(request):
    session_end(request, reason="logout")
    messages.info(request, _("You have signed out."))
    return redirect("accounts:login")
