"""Worker record pages: search, view, reveal. Thin: every read goes through records.services."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.exceptions import DomainError
from accounts.login.session import DEVICE_KEY, session_end, step_up_is_fresh
from accounts.request_info import client_ip
from records.forms import REVEAL_LABELS, PurposeForm, RevealForm, SearchForm
from records.services import (
    AccessInterrupted,
    AccessLogUnavailable,
    BudgetExhausted,
    RecordUnavailable,
    RevealRefused,
    StepUpRequired,
    Viewer,
    record_get_for_viewer,
    record_reveal,
    record_search,
)

# How each refusal is answered: template and status. Missing and out-of-scope share one answer.
REFUSALS = {
    RecordUnavailable: ("records/unavailable.html", 404),
    BudgetExhausted: ("records/refused.html", 429),
    RevealRefused: ("records/refused.html", 429),
    AccessLogUnavailable: ("records/refused.html", 503),
    AccessInterrupted: ("records/interrupted.html", 200),
}


def _viewer(request) -> Viewer:
    return Viewer(user=request.user, ip=client_ip(request), device_id=request.session.get(DEVICE_KEY))


def _refused(request, error: DomainError):
    template, status = REFUSALS[type(error)]
    if isinstance(error, AccessInterrupted):
        session_end(request, reason="account")
    return render(request, template, {"message": str(error)}, status=status)


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


@never_cache
@require_GET
def record(request, reference_id: str):
    purpose_form = PurposeForm(request.GET or None)
    if not purpose_form.is_valid():
        # Nothing is read without a purpose: ask for it (no look-up happened, so nothing is logged).
        return render(request, "records/purpose.html", {"form": purpose_form, "reference_id": reference_id}, status=400)
    purpose = purpose_form.cleaned_data["purpose"]
    try:
        view = record_get_for_viewer(viewer=_viewer(request), reference_id=reference_id, purpose=purpose)
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
