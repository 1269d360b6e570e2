"""The accounts part of the supervisor console: scoped lists, read-only history, lifecycle actions with a reason.

Every list starts from `accounts.scoping`; every change goes through a service, which checks the
actor's right again, so the console can never do more than the services allow.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from accounts.exceptions import DomainError
from accounts.models import AccountEvent, District, Facility, State, User
from accounts.request_info import client_ip
from accounts.scoping import governable_facilities, governable_users
from accounts.services.lifecycle import user_deactivate, user_reinstate, user_suspend


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        min_length=3,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the account's history and shown to auditors."),
    )


def _lifecycle_action(service, name: str, description, done_message):
    """Build an admin action that asks for a reason, then calls `service` for each selected account."""

    def action(modeladmin, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for user in queryset:
                try:
                    reason = form.cleaned_data["reason"]
                    service(user=user, acting_user=request.user, reason=reason, ip=client_ip(request))
                    done += 1
                except DomainError as error:
                    modeladmin.message_user(request, f"{user.username}: {error}", messages.ERROR)
            if done:
                modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "form": form,
            "queryset": queryset,
            "action": name,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/action_reason.html", context)

    action.__name__ = name
    action.short_description = description
    return action


suspend_action = _lifecycle_action(
    user_suspend,
    "suspend",
    _("Suspend selected accounts"),
    ngettext_lazy("%(count)d account suspended.", "%(count)d accounts suspended.", "count"),
)
reinstate_action = _lifecycle_action(
    user_reinstate,
    "reinstate",
    _("Reinstate selected accounts"),
    ngettext_lazy("%(count)d account reinstated.", "%(count)d accounts reinstated.", "count"),
)
deactivate_action = _lifecycle_action(
    user_deactivate,
    "deactivate",
    _("Deactivate (offboard) selected accounts"),
    ngettext_lazy("%(count)d account deactivated.", "%(count)d accounts deactivated.", "count"),
)


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin):
    list_display = ("username", "full_name", "role", "status", "suspension_cause", "facility", "last_login")
    list_filter = ("status", "role", "suspension_cause")
    search_fields = ("username", "first_name", "last_name", "mobile")
    actions = [suspend_action, reinstate_action, deactivate_action]
    readonly_fields = (
        "username",
        "role",
        "status",
        "suspension_cause",
        "status_reason",
        "status_changed_at",
        "facility",
        "district",
        "state",
        "last_login",
        "date_joined",
    )
    fields = (
        ("username", "role"),
        ("first_name", "last_name"),
        ("mobile", "email", "preferred_language"),
        ("status", "suspension_cause", "status_changed_at"),
        "status_reason",
        ("facility", "district", "state"),
        ("last_login", "date_joined"),
    )
    history_list_display = ("status", "suspension_cause", "status_reason")

    @admin.display(description=_("name"), ordering="first_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    def get_queryset(self, request):
        return governable_users(request.user).select_related("facility", "district", "state")

    def has_add_permission(self, request):
        return False  # accounts arrive by invitation, not by a form

    def has_delete_permission(self, request, obj=None):
        return False  # never deleted: deactivated, so the username and history stay

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "type", "subject", "actor", "reason", "ip_address")
    list_filter = ("type",)
    search_fields = ("subject__username", "actor__username", "reason")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(subject__in=governable_users(request.user))
            .select_related("subject", "actor")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnlyForStaff(SimpleHistoryAdmin):
    """Jurisdictions are set up by superusers; supervisors see their own part, read-only."""

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(State)
class StateAdmin(_ReadOnlyForStaff):
    list_display = ("code", "name", "name_hi")


@admin.register(District)
class DistrictAdmin(_ReadOnlyForStaff):
    list_display = ("code", "name", "name_hi", "state")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(facilities__in=governable_facilities(request.user)).distinct()


@admin.register(Facility)
class FacilityAdmin(_ReadOnlyForStaff):
    list_display = ("code", "name", "name_hi", "kind", "district")
    list_filter = ("kind", "district")
    search_fields = ("code", "name")

    def get_queryset(self, request):
        return governable_facilities(request.user).select_related("district")
