"""The governance part of the console: alerts with their triage page, each account's access review, and the
list of review decisions.

All build on the accounts console (accounts/admin.py): its read-only bases, its reasoned actions
(reason + step-up) and its account list, which this module registers with the review added.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.admin import ReadOnlyConsole, UserAdmin, reasoned_action
from accounts.admin_common import CappedPaginator
from accounts.admin_history import GovernedHistoryAdmin
from accounts.models import Alert, User
from accounts.scoping import governable_users
from accounts.services.alerts import alert_confirm, alert_dismiss
from governance.admin_account import AccountHubConsole
from governance.admin_alerts import AlertTriageConsole, RuleFilter
from governance.admin_filters import DistrictFilter, SubjectDistrictFilter
from governance.admin_reviews import AccessReviewConsole, ReverificationFilter
from governance.admin_unexplained import UnexplainedQueueAdmin  # noqa: F401 (registers the review queue)
from governance.evidence import rule_title
from governance.models import AccessReview


@admin.register(User)
class GovernedUserAdmin(AccountHubConsole, AccessReviewConsole, UserAdmin):
    """The account list, the account page (the hub, governance/admin_account.py) with its actions, the
    re-verification filter and each account's review screen."""

    list_filter = (*UserAdmin.list_filter, ReverificationFilter, DistrictFilter)
    readonly_fields = (*UserAdmin.readonly_fields, "review_link")
    fields = (*UserAdmin.fields[:-1], (*UserAdmin.fields[-1], "review_link"))


@admin.register(AccessReview)
class AccessReviewAdmin(ReadOnlyConsole, admin.ModelAdmin):
    """Review decisions are made on each account's review screen; here they are only read."""

    list_display = ("created_at", "user", "decision", "reviewer", "period_start", "period_end")
    list_filter = ("decision",)
    search_fields = ("user__username", "reviewer__username", "reason")
    readonly_fields = ("user", "reviewer", "decision", "reason", "period_start", "period_end", "usage", "created_at")

    def get_queryset(self, request):
        scoped = super().get_queryset(request).filter(user__in=governable_users(request.user))
        return scoped.select_related("user", "reviewer")


confirm_alert_action = reasoned_action(
    alert_confirm,
    "confirm_alert",
    _("Confirm selected alerts"),
    ngettext_lazy("%(count)d alert confirmed.", "%(count)d alerts confirmed.", "count"),
    target="alert",
)
dismiss_alert_action = reasoned_action(
    alert_dismiss,
    "dismiss_alert",
    _("Dismiss selected alerts"),
    ngettext_lazy("%(count)d alert dismissed.", "%(count)d alerts dismissed.", "count"),
    target="alert",
)


@admin.register(Alert)
class AlertAdmin(AlertTriageConsole, ReadOnlyConsole, GovernedHistoryAdmin):
    """The list, then one page per alert (governance/admin_alerts.py): its evidence in words and the decisions."""

    list_display = ("created_at", "severity", "rule_name", "subject", "status", "decided_by")
    list_filter = ("status", "severity", RuleFilter, SubjectDistrictFilter)
    show_full_result_count = False  # a state's alerts over the years: no count of them all on every page
    paginator = CappedPaginator  # nor of all the matching ones
    actions = [confirm_alert_action, dismiss_alert_action]
    readonly_fields = (
        "rule",
        "severity",
        "subject",
        "evidence",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "created_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(subject__in=governable_users(request.user))
            .select_related("subject__facility__district", "subject__district", "decided_by")
        )

    @admin.display(description=_("rule"), ordering="rule")
    def rule_name(self, obj: Alert) -> str:
        return rule_title(obj.rule)
