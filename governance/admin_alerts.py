"""The console's alert page: the rule and its evidence in words, the account behind it, and the decisions.

The page replaces the alert's change form (`AlertAdmin.change_view`). Reading it needs only the console's
OTP session; each decision (confirm, dismiss, suspend the account) asks for a reason, needs a fresh
one-time code (step-up, accounts/admin_common.py) and goes through its service, which checks the
viewer's right again. An alert outside the viewer's jurisdiction is a 404, like one nobody has.

A reason typed before the step-up is kept in the session (per alert and decision) and put back in the
form when the page comes back from the step-up, so nobody types it twice; nothing is applied until the
button is pressed again.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin_common import step_up_redirect
from accounts.exceptions import DomainError
from accounts.forms import ReasonForm
from accounts.models import Alert, Status
from accounts.permissions import can_decide_alert, can_suspend
from accounts.request_info import client_ip
from accounts.services.alerts import alert_confirm, alert_dismiss
from accounts.services.lifecycle import user_suspend
from governance.evidence import alert_triage_read
from governance.rules.registry import RULES

DECISIONS = ("confirm", "dismiss", "suspend")
PENDING_KEY = "_prahari_alert_pending"  # {"alert": pk, "decision": …, "reason": …} across the step-up


def _apply(alert: Alert, decision: str, *, acting_user, reason: str, ip: str | None) -> None:
    """Call the decision's service; raises DomainError (not permitted, already decided, not active)."""
    if decision == "confirm":
        alert_confirm(alert=alert, acting_user=acting_user, reason=reason, ip=ip)
    elif decision == "dismiss":
        alert_dismiss(alert=alert, acting_user=acting_user, reason=reason, ip=ip)
    else:  # the account's history names the alert, so the suspension leads back to its evidence
        user_suspend(
            user=alert.subject, acting_user=acting_user, reason=f"alert {alert.pk} ({alert.rule}): {reason}", ip=ip
        )


class RuleFilter(admin.SimpleListFilter):
    """The alert list's filter by rule, named in words (the same `rule__exact` parameter as a field filter)."""

    title = gettext_lazy("rule")
    parameter_name = "rule__exact"

    def lookups(self, request, model_admin):
        return [(rule.name, str(rule.words.title)) for rule in RULES]

    def queryset(self, request, queryset):
        return queryset.filter(rule=self.value()) if self.value() else queryset


class AlertTriageConsole:
    """For AlertAdmin: the alert's page (GET) and its three decisions (POST)."""

    triage_template = "admin/accounts/alert_triage.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        alert = self.get_object(request, object_id)
        if alert is None:
            raise Http404  # the same answer for "no such alert" and "not yours"
        forms = {
            "decide": ReasonForm(prefix="decide", initial=self._pending(request, alert, ("confirm", "dismiss"))),
            "suspend": ReasonForm(prefix="suspend", initial=self._pending(request, alert, ("suspend",))),
        }
        if request.method == "POST":
            decision = request.POST.get("decision")
            if decision not in DECISIONS:
                return redirect(request.path)
            prefix = "suspend" if decision == "suspend" else "decide"
            forms[prefix] = ReasonForm(request.POST, prefix=prefix)
            if forms[prefix].is_valid():
                return self._decide(request, alert, decision, forms[prefix])
        return TemplateResponse(request, self.triage_template, self._context(request, alert, forms))

    def _pending(self, request, alert: Alert, decisions: tuple[str, ...]) -> dict:
        """The reason typed before a step-up, for this alert and one of `decisions` (forgotten once read)."""
        pending = request.session.get(PENDING_KEY) or {}
        if pending.get("alert") == alert.pk and pending.get("decision") in decisions:
            request.session.pop(PENDING_KEY, None)
            return {"reason": pending.get("reason", "")}
        return {}

    def _decide(self, request, alert: Alert, decision: str, form: ReasonForm):
        reason = form.cleaned_data["reason"]
        if (bounce := step_up_redirect(request)) is not None:
            request.session[PENDING_KEY] = {"alert": alert.pk, "decision": decision, "reason": reason}
            return bounce
        page = redirect(reverse("admin:accounts_alert_change", args=[alert.pk]))  # the alert as it now is
        try:
            _apply(alert, decision, acting_user=request.user, reason=reason, ip=client_ip(request))
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return page
        done = {
            "confirm": _("Alert confirmed."),
            "dismiss": _("Alert dismissed."),
            "suspend": _("%(user)s is suspended; their sessions have ended.") % {"user": alert.subject},
        }[decision]
        self.message_user(request, done, messages.SUCCESS)
        return page

    def _context(self, request, alert: Alert, forms: dict) -> dict:
        triage = alert_triage_read(alert)
        subject = alert.subject
        return {
            **self.admin_site.each_context(request),
            "title": triage.explanation.title,
            "subtitle": None,
            "opts": self.model._meta,
            "original": alert,
            "has_view_permission": True,
            "alert": alert,
            "subject": subject,
            "triage": triage,
            "decide_form": forms["decide"],
            "suspend_form": forms["suspend"],
            "may_decide": alert.status == Alert.State.OPEN and can_decide_alert(request.user, subject),
            "may_suspend": subject.status == Status.ACTIVE and can_suspend(request.user, subject),
            "access_log_url": f"{reverse('admin:records_accessevent_changelist')}?actor__id__exact={subject.pk}",
            "history_url": reverse("admin:accounts_alert_history", args=[alert.pk]),
        }
