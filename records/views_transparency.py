"""The beneficiary's transparency pages under /my-record/ (no Prahari account): ask for a code, type it, read who
opened the record. Thin: records/transparency.py decides and logs; these pages keep the browser session's state."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import InvalidPage
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.request_info import client_ip
from records.forms_transparency import TransparencyAskForm, TransparencyCodeForm
from records.models import Beneficiary
from records.transparency import (
    TransparencyLimited,
    transparency_code_confirm,
    transparency_code_request,
    transparency_history,
)

CHALLENGE_KEY = "transparency_challenge"  # the code asked for in this browser session
RECORD_KEY = "transparency_record"  # the record whose history this session may read…
UNTIL_KEY = "transparency_until"  # …until this time (seconds since the epoch)


def _forget(session) -> None:
    for key in (CHALLENGE_KEY, RECORD_KEY, UNTIL_KEY):
        session.pop(key, None)


@never_cache
@login_not_required
@sensitive_post_parameters("reference_id", "mobile")
@require_http_methods(["GET", "POST"])
def ask(request):
    form = TransparencyAskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            challenge = transparency_code_request(
                reference_id=form.cleaned_data["reference_id"],
                mobile=form.cleaned_data["mobile"],
                ip=client_ip(request),
            )
        except TransparencyLimited as error:
            return render(request, "records/transparency_limited.html", {"message": str(error)}, status=429)
        _forget(request.session)
        request.session[CHALLENGE_KEY] = challenge.pk
        return redirect("transparency:code")
    return render(request, "records/transparency_ask.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@login_not_required
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def code(request):
    challenge_id = request.session.get(CHALLENGE_KEY)
    if not isinstance(challenge_id, int):
        return redirect("transparency:ask")
    form = TransparencyCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        record = transparency_code_confirm(
            challenge_id=challenge_id, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if record is not None:
            request.session.cycle_key()  # what this session may read changed: a new key
            _forget(request.session)
            until = timezone.now() + timedelta(minutes=settings.PRAHARI_TRANSPARENCY_SESSION_MINUTES)
            request.session[RECORD_KEY], request.session[UNTIL_KEY] = record.pk, until.timestamp()
            return redirect("transparency:history")
        form.add_error("code", _("This code is not right, or no longer works. Check the SMS, or ask for a new code."))
    context = {"form": form, "minutes": settings.PRAHARI_TRANSPARENCY_CODE_MINUTES}
    return render(request, "records/transparency_code.html", context, status=400 if form.errors else 200)


@never_cache
@login_not_required
@require_GET
def history(request):
    record_id, until = request.session.get(RECORD_KEY), request.session.get(UNTIL_KEY)
    if not isinstance(record_id, int) or not isinstance(until, float):
        return redirect("transparency:ask")
    record = Beneficiary.objects.filter(pk=record_id).first() if until > timezone.now().timestamp() else None
    if record is None:
        _forget(request.session)
        messages.info(request, _("Your look at the record has ended. Ask for a new code to see it again."))
        return redirect("transparency:ask")
    try:
        page = transparency_history(beneficiary=record, ip=client_ip(request), page_number=request.GET.get("page", 1))
    except InvalidPage:
        return render(
            request, "records/transparency_limited.html", {"message": _("There is no such page.")}, status=404
        )
    context = {"page": page, "reference_id": record.reference_id, "days": settings.PRAHARI_TRANSPARENCY_DAYS}
    return render(request, "records/transparency_history.html", context)


@never_cache
@login_not_required
@require_POST
def end(request):
    _forget(request.session)
    messages.info(request, _("Done: this browser no longer shows the record's history."))
    return redirect("transparency:ask")
