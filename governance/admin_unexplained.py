"""The console's review queue of unexplained look-ups (issue 16, item 4; governance/unexplained.py).

`/admin/records/accessexplanation/` lists the unexplained look-ups of the last seven days by the workers the
viewer governs, the workers with the most unexplained first. Each line offers "Accept": the reason (and,
past the step-up window, a fresh code) on one page, then `explanation_accept`; each worker "Raise an alert",
the same way, then `unexplained_alert_raise`. The services check the right to decide again (decide_alert,
never about oneself); a look-up or worker outside the queue is a 404.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from accounts.admin import ReadOnlyConsole
from accounts.admin_common import code_confirmed, reason_code_form
from accounts.dates import written_moment
from accounts.exceptions import DomainError
from accounts.models import Role
from accounts.scoping import governable_users
from governance.unexplained import explanation_accept, review_queue, review_queue_line, unexplained_alert_raise
from records.models import AccessExplanation

DECISIONS = {
    "accept": (
        gettext_lazy("Accept as real work"),
        gettext_lazy(
            "Say why this look-up was part of the worker's work. The reason becomes its explanation, with your name."
        ),
    ),
    "alert": (
        gettext_lazy("Raise an alert"),
        gettext_lazy(
            "Raise an alert about this worker's unexplained look-ups of the last seven days, with your reason. "
            "It goes to the alert list, where it is confirmed or dismissed like any other."
        ),
    ),
}


@admin.register(AccessExplanation)
class UnexplainedQueueAdmin(ReadOnlyConsole, admin.ModelAdmin):
    """AccessExplanation's place in the console is the queue of what still lacks one; rows are never edited."""

    queue_template = "admin/records/unexplained_queue.html"
    decide_template = "admin/records/unexplained_decide.html"

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("accounts.decide_alert")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_urls(self):
        accept = self.admin_site.admin_view(self.accept_view)
        alert = self.admin_site.admin_view(self.alert_view)
        return [
            path("", self.admin_site.admin_view(self.changelist_view), name="records_accessexplanation_changelist"),
            path("<int:event_id>/accept/", accept, name="records_accessexplanation_accept"),
            path("worker/<int:user_id>/alert/", alert, name="records_accessexplanation_alert"),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.GET:  # the queue declares no filter, search, ordering or page: any parameter is refused
            problem = self.query_problem(request) or _("This list cannot be filtered by “%(name)s”.") % {
                "name": "".join(c if c.isprintable() else "?" for c in next(iter(request.GET)))[:60]
            }
            return self.bad_query_response(request, problem)
        lines = review_queue(acting_user=request.user, now=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "title": _("Unexplained look-ups to review"),
            "opts": self.model._meta,
            "lines": lines,
        }
        return TemplateResponse(request, self.queue_template, context)

    def _decide(self, request, kind: str, subject, run):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        queue_url = reverse("admin:records_accessexplanation_changelist")
        form = reason_code_form(request, bound=request.method == "POST")
        if form.is_valid():
            confirmed = code_confirmed(request, form)
            if confirmed is True:
                try:
                    done = run(form.cleaned_data["reason"])
                except DomainError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.message_user(request, done, messages.SUCCESS)
                return redirect(queue_url)
            if confirmed is not False:
                return confirmed  # wrong codes locked the viewer's account: signed out
        label, explains = DECISIONS[kind]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label}: {subject}",
            "opts": self.model._meta,
            "label": label,
            "explains": explains,
            "subject": subject,
            "form": form,
            "queue_url": queue_url,
        }
        return TemplateResponse(request, self.decide_template, context)

    @method_decorator(sensitive_post_parameters("token", "backup_code"))
    def accept_view(self, request, event_id: int):
        line = review_queue_line(acting_user=request.user, event_id=event_id)
        if line is None:
            raise Http404  # not in the viewer's queue: explained already, another area's, or no such look-up
        subject = _("%(worker)s opened %(record)s at %(time)s") % {
            "worker": line.worker,
            "record": line.reference_id,
            "time": written_moment(line.at),
        }

        def run(reason: str) -> str:
            explanation_accept(event_id=event_id, acting_user=request.user, reason=reason)
            return _("The look-up is accepted as real work.")

        return self._decide(request, "accept", subject, run)

    @method_decorator(sensitive_post_parameters("token", "backup_code"))
    def alert_view(self, request, user_id: int):
        worker = governable_users(request.user).filter(pk=user_id, role=Role.WORKER).first()
        if worker is None:
            raise Http404

        def run(reason: str) -> str:
            unexplained_alert_raise(worker=worker, acting_user=request.user, reason=reason)
            return _("An alert about %(worker)s was raised.") % {"worker": worker}

        return self._decide(request, "alert", worker, run)
