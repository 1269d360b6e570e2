"""Passkey pages: the options the browser asks for, and the forms its answer is posted in.

Each ceremony is two requests: a POST for the options (JSON; the challenge's state stays in the session), then
an ordinary form POST carrying the browser's answer in `credential` (accounts/static/accounts/passkeys.js).
The rules live in accounts/services/passkeys.py and the login flow; these views only carry them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp_webauthn.models import WebAuthnCredential

from accounts.exceptions import DomainError
from accounts.login import flow
from accounts.login.device_cookie import device_token_read
from accounts.login.failures import failure_counted, login_is_barred
from accounts.login.session import fresh_login, session_end, step_up_record
from accounts.login.step_up import signed_out_for_wrong_codes
from accounts.request_info import client_ip
from accounts.services import passkeys
from accounts.views.account import fresh_login_required
from accounts.views.login import _failure_message, _respond, _restart, _safe_next

STATE_KEY = "_prahari_passkey_state"  # {"purpose": …, "state": …}: one ceremony at a time


def _options(request, purpose: str, begin) -> JsonResponse:
    options, state = begin
    request.session[STATE_KEY] = {"purpose": purpose, "state": state}
    return JsonResponse(options)


def _state(request, purpose: str) -> dict | None:
    """The kept state of a ceremony of `purpose` (used once: it is removed)."""
    kept = request.session.pop(STATE_KEY, None)
    return kept.get("state") if isinstance(kept, dict) and kept.get("purpose") == purpose else None


# --- Sign-in: the passkey stands in for the code ----------------------------------------------------------------


@never_cache
@login_not_required
@require_POST
def login_options(request):
    pending = flow.pending_get(request)
    if pending is None:
        return JsonResponse({"error": _("Your sign-in expired. Please start again.")}, status=400)
    return _options(request, "login", passkeys.passkey_authentication_begin(user=pending.user))


@never_cache
@login_not_required
@require_POST
def login_passkey(request):
    """The passkey's answer at sign-in: on success the same account, device and session checks as a code."""
    pending = flow.pending_get(request)
    if pending is None:
        return _restart(request, _("Your sign-in expired. Please start again."))
    if flow.pending_is_barred(request, pending):
        return _restart(request, _failure_message())
    try:
        outcome = flow.passkey_finish(
            request,
            pending,
            state=_state(request, "login"),
            data=request.POST.get("credential", ""),
            device_token=device_token_read(request),
        )
    except passkeys.PasskeyCloned as error:
        flow.otp_failure(request, pending, method="passkey")
        return _restart(request, str(error))
    except passkeys.PasskeyError as error:
        if flow.otp_failure(request, pending, method="passkey"):
            return _restart(request, _failure_message())
        messages.error(request, str(error))
        return redirect("accounts:login-otp")
    return _respond(request, pending, outcome)


# --- Registration (own security page, fresh sign-in) ---------------------------------------------------------


@never_cache
@require_POST
def register_options(request):
    if not fresh_login(request):
        message = _("For your safety, sign out and sign in again, then add the passkey.")
        return JsonResponse({"error": message}, status=403)
    return _options(request, "register", passkeys.passkey_registration_begin(user=request.user))


@never_cache
@require_POST
@fresh_login_required
def register(request):
    try:
        passkeys.passkey_registration_complete(
            user=request.user,
            state=_state(request, "register"),
            data=request.POST.get("credential", ""),
            name=request.POST.get("name", ""),
            ip=client_ip(request),
        )
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your passkey is registered. Use it the next time you sign in."))
    return redirect(reverse("accounts:security") + "#passkeys")


@never_cache
@require_POST
def revoke_own(request, pk: int):
    passkey = get_object_or_404(WebAuthnCredential, pk=pk, user=request.user)
    try:
        passkeys.passkey_revoke(
            passkey=passkey,
            acting_user=request.user,
            reason=request.POST.get("reason") or _("Withdrawn by its owner"),
            ip=client_ip(request),
        )
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The passkey was withdrawn; the sessions it opened have ended."))
    return redirect(reverse("accounts:security") + "#passkeys")


# --- Step-up inside a session ------------------------------------------------------------------------------------


@never_cache
@require_POST
def step_up_options(request):
    return _options(request, "step_up", passkeys.passkey_authentication_begin(user=request.user))


@never_cache
@require_POST
def step_up(request):
    """A fresh passkey proof inside the session: the same stamp (and rotation) as a fresh code; a refusal counts
    with the login failures."""
    if login_is_barred(request, request.user):
        return signed_out_for_wrong_codes(request)
    next_url = _safe_next(request, request.GET.get("next"))
    try:
        passkeys.passkey_authenticate(
            user=request.user,
            state=_state(request, "step_up"),
            data=request.POST.get("credential", ""),
            ip=client_ip(request),
        )
    except passkeys.PasskeyCloned as error:  # its sessions have ended: this one ends too, whichever opened it
        failure_counted(request, user=request.user, category="otp_step_up_passkey")
        session_end(request, reason="passkey_cloned")
        messages.error(request, str(error))
        return redirect("accounts:login")
    except passkeys.PasskeyError as error:
        if failure_counted(request, user=request.user, category="otp_step_up_passkey"):
            return signed_out_for_wrong_codes(request)
        messages.error(request, str(error))
        return redirect(f"{reverse('accounts:step-up')}?{urlencode({'next': next_url})}")
    step_up_record(request)
    return redirect(next_url)


@never_cache
def passkey_required_page(request):
    """The console's answer to a role that must have a passkey past the deadline and has none."""
    return render(
        request,
        "accounts/passkey_required.html",
        {"deadline": passkeys.passkey_deadline()},
        status=403,
    )
