"""Step-up: a fresh one-time code proven inside a signed-in session, before a sensitive action.

One path for the step-up page (accounts/views/home.py) and the console's pages that ask for the code on
the action's own page (reason and code together): the same verification, the same failure counting
(django-axes, OTP_FAILED), the same lock and the same sign-out when the lock is reached.
"""

from __future__ import annotations

import hashlib
from enum import Enum

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError
from accounts.login.failures import failure_counted, login_is_barred
from accounts.login.session import session_end, step_up_record
from accounts.request_info import client_ip
from accounts.services.lockouts import login_is_held
from accounts.services.otp import otp_sms_send, otp_verify
from accounts.services.passkeys import codes_refused

ATTEMPT_KEY = "_prahari_step_up_attempt"


class StepUp(Enum):
    PROVEN = "proven"
    WRONG = "wrong"
    LOCKED = "locked"
    PASSKEY_ONLY = "passkey_only"  # a code is not accepted from this account: its passkey is


def step_up_attempt_id(request) -> str:
    """The attempt an SMS code of this session's step-ups is bound to."""
    return request.session.setdefault(
        ATTEMPT_KEY, hashlib.sha256(request.session.session_key.encode()).hexdigest()[:32]
    )


def step_up_verify(request, *, method: str, token: str) -> StepUp:
    """Check `token` of `method` for the signed-in user: PROVEN (session key rotated, STEP_UP_SUCCEEDED),
    WRONG (counted toward the lockout), LOCKED (barred before, or by this failure: no code is checked
    while locked) or PASSKEY_ONLY (the account's second factor is its passkey: no code is checked)."""
    user = request.user
    if login_is_barred(request, user):
        return StepUp.LOCKED
    if codes_refused(user):
        return StepUp.PASSKEY_ONLY
    if otp_verify(user=user, method=method, token=token, attempt_id=step_up_attempt_id(request)):
        step_up_record(request)
        return StepUp.PROVEN
    if failure_counted(request, user=user, category=f"otp_step_up_{method}"):
        return StepUp.LOCKED
    return StepUp.WRONG


def signed_out_for_wrong_codes(request):
    """End this session (the lock has ended the others) and say why on the login page."""
    held = login_is_held(request.user)
    session_end(request, reason="locked")
    if held:
        message = _(
            "You were signed out after too many wrong codes. Your account stays locked until your supervisor "
            "unlocks it: please call your supervisor."
        )
    else:
        message = _(
            "You were signed out after too many wrong codes. Wait %(minutes)s minutes before you sign in "
            "again, or call your supervisor."
        ) % {"minutes": settings.PRAHARI_LOCKOUT_MINUTES}
    messages.error(request, message)
    return redirect("accounts:login")


def step_up_sms_send(request) -> None:
    """Send the signed-in user an SMS code for this session's step-ups; say so (or why not) in a message."""
    try:
        otp_sms_send(user=request.user, attempt_id=step_up_attempt_id(request), ip=client_ip(request))
        messages.info(request, _("A code was sent to your registered mobile number."))
    except DomainError as error:
        messages.error(request, str(error))
