"""The accounts part of the supervisor console: scoped lists, read-only history, lifecycle actions with a reason.

Every list starts from `accounts.scoping`; every change goes through a service, which checks the
actor's right again, so the console can never do more than the services allow.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Case, Value, When
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.admin_common import CappedPaginator, actions_report, code_confirmed, reason_code_form
from accounts.admin_dates import CalendarDates
from accounts.admin_guard import DeclaredLookupsOnly
from accounts.admin_history import GovernedHistoryAdmin
from accounts.admin_locks import LockedNowFilter, LockStatusColumn
from accounts.admin_onboarding import invite_file_view, invite_view, onboarding_actions
from accounts.exceptions import DomainError
from accounts.models import (
    AccountEvent,
    District,
    Facility,
    Invitation,
    LoginHold,
    RegisteredDevice,
    State,
    User,
)
from accounts.request_info import client_ip
from accounts.scoping import governable_facilities, governable_users
from accounts.services.devices import device_approve, device_reject, device_revoke
from accounts.services.lifecycle import user_deactivate, user_reinstate, user_suspend
from accounts.services.lockouts import lock_columns, lockout_clear


def reasoned_action(
    service, name: str, description, done_message, *, target: str = "user", with_reason: bool = True, extra=None
):
    """Build an admin action that asks for a reason and a fresh one-time code on one page (the code unless one
    was proven within the step-up window), then calls `service` for each selected object.

    The selection and the chosen action travel with that page's form, so nothing is chosen twice; the
    objects are read again through the list's scope and the service checks the right to act on each.
    `extra(request)`: more arguments for the service.
    """

    def action(modeladmin, request, queryset):
        bound = "apply" in request.POST or "send_sms" in request.POST  # the list itself posts neither
        form = reason_code_form(request, bound=bound, with_reason=with_reason)
        if form.is_valid():
            confirmed = code_confirmed(request, form)
            if confirmed is True:
                arguments = {"reason": form.cleaned_data["reason"]} if with_reason else {}
                arguments.update(extra(request) if extra else {})
                _apply_each(modeladmin, request, queryset, service, target, arguments, done_message)
                return None
            if confirmed is not False:
                return confirmed  # wrong codes locked the account: signed out
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


def _apply_each(modeladmin, request, queryset, service, target: str, arguments: dict, done_message) -> None:
    done, refused = 0, []
    for obj in queryset:
        try:
            service(**{target: obj}, acting_user=request.user, ip=client_ip(request), **arguments)
            done += 1
        except DomainError as error:
            refused.append(f"{obj}: {error}")
    actions_report(modeladmin, request, done=done, done_message=done_message, refused=refused)


suspend_action = reasoned_action(
    user_suspend,
    "suspend",
    _("Suspend selected accounts"),
    ngettext_lazy("%(count)d account suspended.", "%(count)d accounts suspended.", "count"),
)
reinstate_action = reasoned_action(
    user_reinstate,
    "reinstate",
    _("Reinstate selected accounts"),
    ngettext_lazy("%(count)d account reinstated.", "%(count)d accounts reinstated.", "count"),
)
deactivate_action = reasoned_action(
    user_deactivate,
    "deactivate",
    _("Deactivate (offboard) selected accounts"),
    ngettext_lazy("%(count)d account deactivated.", "%(count)d accounts deactivated.", "count"),
)
unlock_action = reasoned_action(
    lockout_clear,
    "unlock",
    _("Unlock selected accounts (clear lockouts)"),
    ngettext_lazy("%(count)d account unlocked.", "%(count)d accounts unlocked.", "count"),
)
approve_device_action = reasoned_action(
    device_approve,
    "approve_device",
    _("Approve selected devices"),
    ngettext_lazy("%(count)d device approved.", "%(count)d devices approved.", "count"),
    target="device",
)
reject_device_action = reasoned_action(
    device_reject,
    "reject_device",
    _("Reject selected devices"),
    ngettext_lazy("%(count)d device rejected.", "%(count)d devices rejected.", "count"),
    target="device",
)
revoke_device_action = reasoned_action(
    device_revoke,
    "revoke_device",
    _("Revoke selected devices (ends their sessions)"),
    ngettext_lazy("%(count)d device revoked.", "%(count)d devices revoked.", "count"),
    target="device",
)


approve_onboarding_action, reject_onboarding_action, revoke_invitation_action, resend_invitation_action = (
    onboarding_actions(reasoned_action)
)


class ReadOnlyConsole(DeclaredLookupsOnly):
    """Rows the console shows but never adds, edits or deletes: changes go through the services' actions.

    Its lists answer only the filters, search and ordering they declare (accounts/admin_guard.py).
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class UserAdmin(ReadOnlyConsole, LockStatusColumn, GovernedHistoryAdmin):
    """Accounts arrive by invitation and change only through the lifecycle actions; never deleted.

    Registered by governance/admin.py, which adds each account's access review.
    """

    list_display = ("username", "full_name", "role", "status_and_lock", "suspension_cause", "facility", "last_login")
    list_filter = ("status", LockedNowFilter, "role", "suspension_cause")
    search_fields = ("username", "first_name", "last_name")
    actions = [
        approve_onboarding_action,
        reject_onboarding_action,
        suspend_action,
        reinstate_action,
        deactivate_action,
        unlock_action,
        resend_invitation_action,
        revoke_invitation_action,
    ]
    change_list_template = "admin/accounts/user/change_list.html"
    paginator = CappedPaginator
    show_full_result_count = False  # a district's every account is not worth counting twice on each page
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
        "access_log",
        "review_due_at",
        "reconfirm_pending",
    )
    fields = (
        ("username", "role"),
        ("first_name", "last_name"),
        ("mobile", "email", "preferred_language"),
        ("status", "suspension_cause", "status_changed_at"),
        "status_reason",
        ("facility", "district", "state"),
        ("last_login", "date_joined"),
        "access_log",
        ("review_due_at", "reconfirm_pending"),
    )

    @admin.display(description=_("name"), ordering="first_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    def get_urls(self):
        invite = self.admin_site.admin_view(partial(invite_view, self))
        invite_file = self.admin_site.admin_view(partial(invite_file_view, self))
        return [
            path("invite/", invite, name="accounts_user_invite"),
            path("invite-file/", invite_file, name="accounts_user_invite_file"),
            *super().get_urls(),
        ]

    @admin.display(description=_("record access log"))
    def access_log(self, obj: User) -> str:
        url = f"{reverse('admin:records_accessevent_changelist')}?{urlencode({'actor__id__exact': obj.pk})}"
        return format_html('<a href="{}">{}</a>', url, _("Every search, view and reveal of this account"))

    def get_queryset(self, request):
        users = governable_users(request.user).select_related("facility", "district", "state")
        return users.annotate(**lock_columns())


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyConsole, GovernedHistoryAdmin):
    """Links are opened, re-sent and revoked from the account list's actions; here they are only read."""

    list_display = ("user", "state", "created_at", "expires_at", "used_at", "invited_by", "closed_by")
    list_filter = ("state",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    readonly_fields = list_display

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(user__in=governable_users(request.user))
            .select_related("user", "invited_by", "closed_by")
        )


@admin.register(RegisteredDevice)
class RegisteredDeviceAdmin(ReadOnlyConsole, GovernedHistoryAdmin):
    """Devices waiting for a decision come first; the code is what the worker reads out on the phone."""

    list_display = ("code", "user", "label", "status", "first_ip", "created_at", "last_seen_at", "decided_by")
    list_filter = ("status",)
    search_fields = ("code", "user__username", "user__first_name", "user__last_name")
    actions = [approve_device_action, reject_device_action, revoke_device_action]
    readonly_fields = (
        "user",
        "code",
        "label",
        "user_agent",
        "first_ip",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "created_at",
        "last_seen_at",
    )
    exclude = ("token_hash",)

    def get_queryset(self, request):
        status_order = Case(When(status=RegisteredDevice.Status.PENDING, then=Value(0)), default=Value(1))
        return (
            super()
            .get_queryset(request)
            .filter(user__in=governable_users(request.user))
            .select_related("user", "decided_by")
            .order_by(status_order, "-created_at")
        )


@admin.register(LoginHold)
class LoginHoldAdmin(ReadOnlyConsole, admin.ModelAdmin):
    list_display = ("user", "created_at", "lockouts", "cleared_at", "cleared_by", "clear_reason")
    list_filter = (("cleared_at", admin.EmptyFieldListFilter),)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__in=governable_users(request.user)).select_related("user")


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyConsole, CalendarDates, admin.ModelAdmin):
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


class _ReadOnlyForStaff(DeclaredLookupsOnly, GovernedHistoryAdmin):
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

    def get_queryset(self, request):
        states = super().get_queryset(request)
        if request.user.is_superuser:  # sets up states before their districts and facilities exist
            return states
        return states.filter(districts__facilities__in=governable_facilities(request.user)).distinct()


@admin.register(District)
class DistrictAdmin(_ReadOnlyForStaff):
    list_display = ("code", "name", "name_hi", "state")

    def get_queryset(self, request):
        districts = super().get_queryset(request)
        if request.user.is_superuser:  # sets up districts before their facilities exist
            return districts
        return districts.filter(facilities__in=governable_facilities(request.user)).distinct()


@admin.register(Facility)
class FacilityAdmin(_ReadOnlyForStaff):
    list_display = ("code", "name", "name_hi", "kind", "district")
    list_filter = ("kind", ("district", admin.RelatedOnlyFieldListFilter))  # only the viewer's districts
    search_fields = ("code", "name")

    def get_queryset(self, request):
        return governable_facilities(request.user).select_related("district")
