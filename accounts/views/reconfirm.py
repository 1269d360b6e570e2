"""Re-confirmation after an access review: the current data-use undertaking and a fresh one-time code.

The gate (`accounts.review_gate`) sends here every request of an account that must re-confirm. The code
of the login that just happened counts as fresh: within PRAHARI_STEP_UP_MINUTES of it (the step-up window)
only the undertaking is asked for; later, a new code (docs/onboarding.md, re-verification). A wrong code
counts toward the lockout like any other failed code.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.exceptions import DomainError
from accounts.forms import ReconfirmForm
from accounts.login.failures import failure_counted
from accounts.login.session import session_end, step_up_is_fresh, step_up_record
from accounts.request_info import client_ip
from accounts.services.otp import login_otp_devices, otp_sms_send, otp_verify
from accounts.services.passkeys import codes_refused
from accounts.services.reviews import reconfirm_required, review_reconfirm
from accounts.services.undertakings import undertaking_current
from accounts.views.login import _safe_next

ATTEMPT_KEY = "_prahari_reconfirm_attempt"


@never_cache
@sensitive_post_parameters("token", "backup_code")
@require_http_methods(["GET", "POST"])
def review_reconfirm_view(request):
    user = request.user
    next_url = _safe_next(request, request.GET.get("next"))
    undertaking = undertaking_current()
    if not reconfirm_required(user) or undertaking is None:
        return redirect(next_url)
    devices = login_otp_devices(user)
    attempt = request.session.setdefault(
        ATTEMPT_KEY, hashlib.sha256(f"reconfirm:{request.session.session_key}".encode()).hexdigest()[:32]
    )
    ip = client_ip(request)
    if request.method == "POST" and "send_sms" in request.POST:
        try:
            otp_sms_send(user=user, attempt_id=attempt, ip=ip)
            messages.info(request, _("A code was sent to your registered mobile number."))
        except DomainError as error:
            messages.error(request, str(error))
        return redirect(request.get_full_path())
    with_code = not step_up_is_fresh(request)
    # A passkey is this account's only second factor: it proves itself on the step-up path, then comes back.
    passkey_only = with_code and codes_refused(user)
    with_code = with_code and not passkey_only
    form = ReconfirmForm(
        request.POST or None,
        methods=list(devices),
        with_code=with_code,
        initial={"version": undertaking.version, "method": "totp"},
    )
    if passkey_only and request.method == "POST":
        messages.error(request, _("Confirm it is you with your passkey first, then accept."))
        return redirect(request.get_full_path())
    if request.method == "POST" and with_code and not {"token", "backup_code"} & set(request.POST):
        form.is_valid()  # the page was shown while the login's code was fresh; it no longer is
        form.add_error(None, _("Some minutes have passed since you signed in: confirm with a fresh one-time code."))
    elif request.method == "POST" and form.is_valid():
        if form.cleaned_data["version"] != undertaking.version:
            messages.warning(request, _("The undertaking has changed since you opened this page. Read it again."))
            return redirect(request.get_full_path())
        if with_code:
            method = form.cleaned_data["method"]
            token = form.cleaned_data["token"]
            if not otp_verify(user=user, method=method, token=token, attempt_id=attempt, devices=devices):
                if failure_counted(request, user=user, category=f"otp_reconfirm_{method}"):
                    session_end(request, reason="locked")
                    messages.error(request, _("Too many failed attempts. You have been signed out."))
                    return redirect("accounts:login")
                form.code_error(_("That code is not right, or it has expired."))
                return _page(request, form, undertaking, devices)
            step_up_record(request)  # a fresh code proven: rotate the session key
        try:
            review_reconfirm(user=user, undertaking=undertaking, ip=ip, code_from="reconfirm" if with_code else "login")
        except DomainError as error:
            messages.error(request, str(error))
            return redirect(request.get_full_path())
        request.session.pop(ATTEMPT_KEY, None)
        messages.success(request, _("Thank you. Your access is confirmed."))
        return redirect(next_url)
    return _page(request, form, undertaking, devices, passkey_only=passkey_only)


def _page(request, form, undertaking, devices, *, passkey_only: bool = False):
    text = undertaking.text_hi if (get_language() or "").startswith("hi") else undertaking.text
    context = {"form": form, "undertaking": undertaking, "text": text, "has_sms": "sms" in devices and form.with_code}
    if passkey_only:
        back = urlencode({"next": request.get_full_path()})
        context.update(passkey_only=True, passkey_action=f"{reverse('accounts:step-up-passkey')}?{back}")
    return render(request, "accounts/review_reconfirm.html", context)
