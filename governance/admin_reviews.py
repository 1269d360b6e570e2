"""The console's access review: one screen per account with its use in the open period, and Attest / Revoke.

The screen needs a fresh one-time code (step-up), answers 404 for an account outside the viewer's
jurisdiction (`accounts.scoping`), and decides only through `review_attest` / `review_revoke`, which
check the viewer's right again.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_common import step_up_redirect
from accounts.exceptions import DomainError
from accounts.forms import ReasonForm
from accounts.models import User
from accounts.permissions import can_attest
from accounts.request_info import client_ip
from accounts.scoping import governable_users
from governance.models import AccessReview
from governance.reviews import (
    DUE_SOON_DAYS,
    review_attest,
    review_period_start,
    review_revoke,
    review_usage,
    reviews_due_soon,
    reviews_overdue,
)
from governance.unexplained import explained_shares, share_words


class ReviewDecisionForm(ReasonForm):
    """The reason, and which of the two buttons (named `decision`) was pressed."""

    decision = forms.ChoiceField(choices=AccessReview.Decision.choices)


class ReverificationFilter(admin.SimpleListFilter):
    title = _("re-verification")
    parameter_name = "reverification"

    def lookups(self, request, model_admin):
        return [
            ("soon", _("due within %(days)d days") % {"days": DUE_SOON_DAYS}),
            ("overdue", _("overdue")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "soon":
            return reviews_due_soon(queryset, now=now)
        if self.value() == "overdue":
            return reviews_overdue(queryset, now=now)
        return queryset


class AccessReviewConsole:
    """For UserAdmin: the review screen's URL and a link to it on each account's page."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.review_view)
        return [path("<int:object_id>/review/", view, name="accounts_user_review"), *super().get_urls()]

    @admin.display(description=_("re-verification"))
    def review_link(self, obj: User) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:accounts_user_review", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Review this account's access (attest or revoke)"))

    def review_view(self, request, object_id: int):
        account = governable_users(request.user).select_related("facility", "district", "state").filter(pk=object_id)
        account = account.first()
        if account is None:
            raise Http404  # the same answer for "no such account" and "not yours"
        if (bounce := step_up_redirect(request)) is not None:
            return bounce
        form = ReviewDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            done = self._decide(request, account, form)
            if done is not None:
                return done
        return TemplateResponse(request, "admin/accounts/user_review.html", self._context(request, account, form))

    def _decide(self, request, account: User, form: ReviewDecisionForm):
        decision = form.cleaned_data["decision"]
        service = review_attest if decision == AccessReview.Decision.ATTEST else review_revoke
        try:
            service(user=account, acting_user=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
        except DomainError as error:
            form.add_error(None, str(error))
            return None
        if decision == AccessReview.Decision.ATTEST:
            self.message_user(request, _("Access attested for %(user)s.") % {"user": account}, messages.SUCCESS)
        else:
            self.message_user(request, _("Access revoked for %(user)s.") % {"user": account}, messages.SUCCESS)
        return redirect("admin:accounts_user_change", account.pk)

    def _context(self, request, account: User, form) -> dict:
        now = timezone.now()
        start = review_period_start(account)
        usage = review_usage(user=account, start=start, end=now)
        last_login = usage["last_login"]
        return {
            **self.admin_site.each_context(request),
            "title": _("Access review: %(user)s") % {"user": account},
            "opts": self.model._meta,
            "original": account,
            "account": account,
            "form": form,
            "usage": usage,
            "period_start": start,
            "period_end": now,
            "period_days": (now - start).days,
            "last_login": datetime.fromisoformat(last_login) if last_login else None,
            "off_hours_percent": round(usage["off_hours_share"] * 100),
            "may_decide": can_attest(request.user, account),
            "share_words": share_words(explained_shares([account.pk], now=now)[account.pk]),
            "reviews": AccessReview.objects.filter(user=account).select_related("reviewer")[:5],
        }
