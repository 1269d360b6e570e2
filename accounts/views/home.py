"""The signed-in person's own account: "My account" (sessions, devices, re-verification), ending a session,
revoking a device (the one in use only after a confirmation), step-up. The home page is portal/home.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.exceptions import DomainError
from accounts.forms import OTPForm
from accounts.login.failures import login_is_barred
from accounts.login.session import DEVICE_KEY, fresh_login, session_end
from accounts.login.step_up import StepUp, signed_out_for_wrong_codes, step_up_sms_send, step_up_verify
from accounts.models import RegisteredDevice, UserSession
from accounts.request_info import client_ip
from accounts.services.devices import device_revoke
from accounts.services.otp import login_otp_devices
from accounts.services.passkeys import codes_refused, passkey_count
from accounts.services.sessions import session_end_by_owner, session_public_id
from accounts.views.account import _reauthenticate
from accounts.views.login import _safe_next


def review_due_days(user) -> int | None:
    """Whole days left until `user`'s re-verification is due (0 once it is due), or None without a date."""
    due = user.review_due_at
    return max((due - timezone.now()).days, 0) if due else None


@never_cache
def my_account(request):
    """The person's sessions and devices (which they may end and revoke), re-verification date and sign-in links."""
    user, current = request.user, request.session.session_key
    sessions = [
        {"id": session_public_id(s.session_key), "current": s.session_key == current, "row": s}
        for s in UserSession.objects.filter(user=user).select_related("device").order_by("-created_at")
    ]
    devices = RegisteredDevice.objects.filter(user=user).exclude(status=RegisteredDevice.Status.REJECTED)
    context = {
        "sessions": sessions,
        "devices": devices,
        "current_device": request.session.get(DEVICE_KEY),
        "review_due": user.review_due_at,
        "review_due_days": review_due_days(user),
    }
    return render(request, "accounts/my_account.html", context)


@require_POST
def session_end_own(request, public_id: str):
    """End another of one's own sessions; only within the fresh-login window (ASVS V7.5.2), else sign in again
    (which, one session per account, ends the others anyway)."""
    if not fresh_login(request):
        return _reauthenticate(request, reverse("accounts:my-account"))
    ended = session_end_by_owner(
        user=request.user, public_id=public_id, current_key=request.session.session_key, ip=client_ip(request)
    )
    if ended:
        messages.success(request, _("That session has been ended."))
    else:
        messages.error(request, _("No such session (it may have ended already)."))
    return redirect("accounts:my-account")


@require_POST
def device_revoke_own(request, pk: int):
    """Revoke one of the person's devices. The device in use is revoked only from its confirmation page (a second
    POST with `confirm=yes`): one tap must not lock a worker out of the phone they work on."""
    device = get_object_or_404(RegisteredDevice, pk=pk, user=request.user)
    in_use = device.pk == request.session.get(DEVICE_KEY)
    if in_use and request.POST.get("confirm") != "yes":
        return render(request, "accounts/device_revoke_confirm.html", {"device": device})
    try:
        device_revoke(device=device, acting_user=request.user, reason=_("revoked by its owner"), ip=client_ip(request))
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("accounts:my-account")
    if in_use:  # its sessions, this one included, have ended
        session_end(request, reason="device")
        messages.info(
            request,
            _(
                "This device has been revoked and you have been signed out. To work on it again, sign in: your "
                "supervisor must approve it as a new device."
            ),
        )
        return redirect("accounts:login")
    messages.success(request, _("The device has been revoked."))
    return redirect("accounts:my-account")


@never_cache
@sensitive_post_parameters("token", "backup_code")
@require_http_methods(["GET", "POST"])
def step_up(request):
    """Prove a fresh OTP before a sensitive action; then go on to `next`.

    A wrong code counts with the login failures (django-axes, OTP_FAILED); the lock it reaches ends
    every session of the account. A locked or held account may not try: no code is verified.
    """
    user = request.user
    if login_is_barred(request, user):
        return signed_out_for_wrong_codes(request)
    passkey_only = codes_refused(user)  # then no code is checked (step_up_verify): only the passkey form shows
    devices = {} if passkey_only else login_otp_devices(user)
    form = OTPForm(request.POST or None, methods=list(devices))
    if request.method == "POST" and "send_sms" in request.POST:
        step_up_sms_send(request)
        return redirect(request.get_full_path())
    if request.method == "POST" and form.is_valid():
        method = form.cleaned_data["method"]
        outcome = step_up_verify(request, method=method, token=form.cleaned_data["token"])
        if outcome is StepUp.PROVEN:
            return redirect(_safe_next(request, request.GET.get("next")))
        if outcome is StepUp.LOCKED:
            return signed_out_for_wrong_codes(request)
        form.code_error(_("That code is not right, or it has expired."))
    context = {
        "form": form,
        "has_sms": "sms" in devices,
        "passkey_only": passkey_only,
        "has_passkey": passkey_only or passkey_count(user) > 0,
        "passkey_action": f"{reverse('accounts:step-up-passkey')}?{urlencode({'next': request.GET.get('next', '')})}",
    }
    return render(request, "accounts/step_up.html", context)
