"""Enrolment from an invitation link (no login): password, an authenticator, this browser, the undertaking."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.exceptions import DomainError
from accounts.forms import EnrolForm
from accounts.login.device_cookie import device_token_write
from accounts.request_info import client_ip
from accounts.services.credentials import sms_device_enrol_confirm, sms_device_enrol_start
from accounts.services.devices import device_token_new
from accounts.services.enrolment import enrolment_complete
from accounts.services.onboarding import invitation_for_token
from accounts.services.otp import totp_enrol_confirm, totp_enrol_start
from accounts.services.undertakings import undertaking_current
from accounts.sms import SMSDeliveryError, mask_mobile
from accounts.views.login import _qr_data_uri


@never_cache
@login_not_required
@sensitive_variables("token")
@sensitive_post_parameters("password1", "password2", "token")
@require_http_methods(["GET", "POST"])
def enrol(request, token: str):
    invitation = invitation_for_token(token)
    if invitation is None:
        return render(request, "accounts/enrol_invalid.html", status=410)
    user = invitation.user
    undertaking = undertaking_current()
    if undertaking is None:  # fail closed
        message = _("Enrolment is not possible right now: no data-use undertaking is published.")
        return render(request, "accounts/enrol_invalid.html", {"message": message}, status=503)
    if request.method == "POST" and "send_sms" in request.POST:
        try:
            sms_device_enrol_start(user=user, ip=client_ip(request))
            messages.info(request, _("A code was sent to %(mobile)s.") % {"mobile": mask_mobile(user.mobile)})
        except (DomainError, SMSDeliveryError) as error:
            messages.error(request, str(error) if isinstance(error, DomainError) else _("The SMS could not be sent."))
        return redirect(request.path)
    totp = TOTPDevice.objects.filter(user=user, confirmed=False).first() or totp_enrol_start(user=user)
    form = EnrolForm(request.POST or None, user=user, initial={"undertaking_version": undertaking.version})
    if request.method == "POST" and form.is_valid():
        data, ip, checked = form.cleaned_data, client_ip(request), {}

        def otp_confirm(account) -> bool:
            if data["method"] == "sms":
                checked["code"] = sms_device_enrol_confirm(user=account, token=data["token"], ip=ip)
            else:
                checked["code"] = totp_enrol_confirm(device=totp, token=data["token"], ip=ip)
            return checked["code"]

        device_token = device_token_new()
        try:
            _user, device = enrolment_complete(
                token=token,
                password=data["password1"],
                otp_confirm=otp_confirm,
                undertaking_version=data["undertaking_version"],
                device_token=device_token,
                ip=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except DomainError as error:
            form.add_error("token" if checked.get("code") is False else None, str(error))
        else:
            response = render(request, "accounts/enrol_done.html", {"device": device, "account": _user})
            device_token_write(response, device_token)
            return response
    context = {
        "form": form,
        "account": user,
        "qr": _qr_data_uri(totp.config_url),
        "secret": base64.b32encode(totp.bin_key).decode(),
        "undertaking": undertaking,
        "undertaking_text": undertaking.text_hi if get_language() == "hi" else undertaking.text,
        "mobile": mask_mobile(user.mobile),
    }
    return render(request, "accounts/enrol.html", context)
