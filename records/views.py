"""Worker record pages: search, view, reveal. Thin: every read goes through records.services."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.exceptions import DomainError
from accounts.login.session import DEVICE_KEY, session_end, step_up_is_fresh
from accounts.request_info import client_ip
from records.forms import REVEAL_LABELS, ConsentCodeForm, PurposeForm, RevealForm, SearchForm
from records.refusals import (
    AccessInterrupted,
    AccessLogUnavailable,
    BudgetExhausted,
    ConsentRequired,
    RecordUnavailable,
    RevealRefused,
    StepUpRequired,
)
from records.services import Viewer, record_get_for_viewer, record_reveal, record_search

# How each refusal is answered: template and status. Missing and out-of-scope share one answer.
REFUSALS = {
    RecordUnavailable: ("records/unavailable.html", 404),
    BudgetExhausted: ("records/refused.html", 429),
    RevealRefused: ("records/refused.html", 429),
    AccessLogUnavailable: ("records/refused.html", 503),
    AccessInterrupted: ("records/interrupted.html", 200),
    ConsentRequired: ("records/refused.html", 403),  # a reveal; the record page asks for the code instead
}


def _viewer(request) -> Viewer:
    return Viewer(user=request.user, ip=client_ip(request), device_id=request.session.get(DEVICE_KEY))


def _refused(request, error: DomainError):
    template, status = REFUSALS[type(error)]
    if isinstance(error, AccessInterrupted):
        session_end(request, reason="account")
    response = render(request, template, {"message": str(error)}, status=status)
    if status == 503:  # the access log could not be written (the database away): nothing was shown or kept
        response["Retry-After"] = "30"
    return response


def _record_url(reference_id: str, purpose: str) -> str:
    return f"{reverse('records:record', args=[reference_id])}?{urlencode({'purpose': purpose})}"


@never_cache
@require_http_methods(["GET", "POST"])
def search(request):
    form = SearchForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = record_search(viewer=_viewer(request), purpose=form.cleaned_data["purpose"], key=form.key)
        except tuple(REFUSALS) as error:
            return _refused(request, error)
    purpose = form.cleaned_data["purpose"] if result is not None else ""
    return render(request, "records/search.html", {"form": form, "result": result, "purpose": purpose})


def _consent_page(request, form: ConsentCodeForm, reference_id: str, *, error: ConsentRequired | None = None):
    """The page that asks for the beneficiary's code: `error` says what the read path answered (a code sent, a
    wrong code, a limit); without it the typed code was not even 6 digits, and nothing was read."""
    context = {
        "form": form,
        "message": str(error or ""),
        "alert": error is not None and error.status != 200,
        "mobile": getattr(error, "mobile", ""),
        "waiting": getattr(error, "waiting", True),
        "reference_id": reference_id,
        "purpose": form["purpose"].value(),
        "minutes": settings.PRAHARI_CONSENT_CODE_MINUTES,
        "tries": settings.PRAHARI_CONSENT_CODE_TRIES,
    }
    return render(request, "records/consent.html", context, status=error.status if error else 400)


@never_cache
@require_http_methods(["GET", "POST"])
def record(request, reference_id: str):
    """GET opens a record; POST brings the beneficiary's code, or sends one, through the same read path (a code is
    sent only on a POST: a link cannot make Prahari text a beneficiary)."""
    posted = request.method == "POST"
    form = ConsentCodeForm(request.POST) if posted else PurposeForm(request.GET or None)
    if not form.is_bound or "purpose" in form.errors:
        # Nothing is read without a purpose: ask for it (no look-up happened, so nothing is logged).
        purpose_form = PurposeForm(form.data or None)
        return render(request, "records/purpose.html", {"form": purpose_form, "reference_id": reference_id}, status=400)
    if not form.is_valid():
        return _consent_page(request, form, reference_id)
    purpose, answer = form.cleaned_data["purpose"], form.cleaned_data
    try:
        view = record_get_for_viewer(
            viewer=_viewer(request),
            reference_id=reference_id,
            purpose=purpose,
            consent_code=answer.get("code", ""),
            consent_send=answer.get("send", False),
        )
    except ConsentRequired as error:
        return _consent_page(request, ConsentCodeForm(initial={"purpose": purpose}), reference_id, error=error)
    except tuple(REFUSALS) as error:
        return _refused(request, error)
    return render(
        request,
        "records/record.html",
        {
            "record": view,
            "purpose": purpose,
            "reveal_form": RevealForm(initial={"purpose": purpose}),
            "stepped_up": step_up_is_fresh(request),
            "step_up_url": f"{reverse('accounts:step-up')}?{urlencode({'next': _record_url(reference_id, purpose)})}",
        },
    )


@never_cache
@require_POST
def reveal(request, reference_id: str):
    form = RevealForm(request.POST)
    back = _record_url(reference_id, request.POST.get("purpose", ""))
    if not form.is_valid():
        return render(request, "records/revealed.html", {"form": form, "back": back}, status=400)
    data = form.cleaned_data
    try:
        value = record_reveal(
            viewer=_viewer(request),
            reference_id=reference_id,
            field_name=data["field"],
            purpose=data["purpose"],
            reason=data["reason"],
            stepped_up=step_up_is_fresh(request),
        )
    except StepUpRequired as error:
        form.add_error(None, str(error))
        return render(request, "records/revealed.html", {"form": form, "back": back}, status=403)
    except tuple(REFUSALS) as error:
        return _refused(request, error)
    except DomainError as error:  # a reason too short, say
        form.add_error("reason", str(error))
        return render(request, "records/revealed.html", {"form": form, "back": back}, status=400)
    return render(
        request,
        "records/revealed.html",
        {"label": REVEAL_LABELS[data["field"]], "value": value, "reference_id": reference_id, "back": back},
    )
