"""Pieces the console shares: the step-up bounce, the reason-and-code form of an action, the one-line report of a
bulk action, the capped count."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.forms import ReasonCodeForm
from accounts.login.session import step_up_is_fresh
from accounts.login.step_up import StepUp, signed_out_for_wrong_codes, step_up_sms_send, step_up_verify
from accounts.services.otp import login_otp_devices


def step_up_redirect(request):
    """None when a fresh OTP was proven; else a redirect to the step-up page that comes back here."""
    if step_up_is_fresh(request):
        return None
    messages.warning(request, _("Confirm it is you with a fresh one-time code, then repeat the action."))
    return redirect(f"{reverse('accounts:step-up')}?{urlencode({'next': request.get_full_path()})}")


def reason_code_form(request, *, bound: bool, with_reason: bool = True) -> ReasonCodeForm:
    """The reason and, unless a code was proven within the step-up window, a fresh code, on the action's own page.

    `bound`: the form holds the POST, except when the POST asks for an SMS code: then the code is sent and the
    typed reason comes back in the form, nothing applied.
    """
    with_code = not step_up_is_fresh(request)
    methods = list(login_otp_devices(request.user)) if with_code else []
    options = {"methods": methods, "with_code": with_code, "with_reason": with_reason}
    if bound and with_code and "send_sms" in request.POST:
        step_up_sms_send(request)
        return ReasonCodeForm(initial={"reason": request.POST.get("reason", "")}, **options)
    return ReasonCodeForm(request.POST if bound else None, **options)


def code_confirmed(request, form: ReasonCodeForm):
    """For a valid `form`: True when it asked no code or the code is proven (the session key rotates); False with
    the refusal beside the code; or, when wrong codes lock the account, the response that signs the viewer out.

    A wrong code counts toward the lockout as at the step-up page. An account whose only second factor is a
    passkey is sent to the step-up page to use it (no code is checked).
    """
    if not form.with_code:
        return True
    outcome = step_up_verify(request, method=form.cleaned_data["method"], token=form.cleaned_data["token"])
    if outcome is StepUp.LOCKED:
        return signed_out_for_wrong_codes(request)
    if outcome is StepUp.PASSKEY_ONLY:  # confirmed on the step-up page with the passkey, then back here
        messages.warning(request, _("Confirm it is you with your passkey, then repeat the action."))
        return redirect(f"{reverse('accounts:step-up')}?{urlencode({'next': request.get_full_path()})}")
    if outcome is StepUp.WRONG:
        form.code_error(_("That code is not right, or it has expired."))
        return False
    return True


def actions_report(model_admin, request, *, done: int, done_message, refused: list[str]) -> None:
    """One message for a bulk action: "12 accounts suspended; 1 refused: asha: You may not …"."""
    parts = [str(done_message % {"count": done}).rstrip(".")] if done else []
    if refused:
        reasons = "; ".join(r.rstrip(".") for r in refused)
        parts.append(
            ngettext("%(count)d refused: %(reasons)s", "%(count)d refused: %(reasons)s", len(refused))
            % {"count": len(refused), "reasons": reasons}
        )
    if not parts:
        return
    level = messages.SUCCESS if not refused else (messages.WARNING if done else messages.ERROR)
    model_admin.message_user(request, "; ".join(parts) + ".", level)


class CappedPaginator(Paginator):
    """Counts at most CAP + 1 rows: a list of a district's 100,000 accounts or millions of access events
    costs what a list of a thousand does (P6). Beyond the cap the list says "more than 1,000" and its
    pages stop there: a supervisor narrows it with search or filters."""

    CAP = 1000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.CAP
