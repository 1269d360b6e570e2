"""Onboarding in the console: the invitation form, invitations (re-send, revoke) and approval actions."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from accounts.admin_common import step_up_redirect
from accounts.exceptions import DomainError
from accounts.models import District, Facility, Role
from accounts.request_info import client_ip
from accounts.scoping import governable_facilities
from accounts.services.enrolment import onboarding_approve, onboarding_reject
from accounts.services.onboarding import (
    INVITED_BY_ROLE,
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from accounts.services.onboarding_csv import MAX_BYTES, invitations_import


class InviteForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    mobile = forms.CharField(
        label=gettext_lazy("Mobile number"), max_length=20, help_text=gettext_lazy("10 digits; +91 is added.")
    )
    email = forms.EmailField(label=gettext_lazy("E-mail address"), required=False)
    role = forms.ChoiceField(label=gettext_lazy("Role"))
    facility = forms.ModelChoiceField(label=gettext_lazy("Facility"), queryset=Facility.objects.none(), required=False)
    district = forms.ModelChoiceField(label=gettext_lazy("District"), queryset=District.objects.none(), required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        roles = INVITED_BY_ROLE.get(viewer.role, set())
        self.fields["role"].choices = [(r.value, r.label) for r in Role if r in roles]
        self.fields["facility"].queryset = governable_facilities(viewer).select_related("district")
        if Role.SUPERVISOR in roles:
            self.fields["district"].queryset = District.objects.filter(state_id=viewer.state_id)
        else:
            del self.fields["district"]

    def clean(self):
        data = super().clean()
        if data.get("role") == Role.WORKER and not data.get("facility"):
            self.add_error("facility", _("A health worker belongs to a facility."))
        if data.get("role") == Role.SUPERVISOR and not data.get("district"):
            self.add_error("district", _("A supervisor governs a district."))
        return data


def invite_view(model_admin, request):
    """The console's invitation form (step-up first); the service does every check."""
    if not request.user.has_perm("accounts.invite_user"):
        raise PermissionDenied
    if (bounce := step_up_redirect(request)) is not None:
        return bounce
    form = InviteForm(request.POST or None, viewer=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sent = invitation_create(
                acting_user=request.user,
                first_name=data["first_name"],
                last_name=data["last_name"],
                mobile=data["mobile"],
                email=data["email"],
                role=data["role"],
                facility=data.get("facility"),
                district=data.get("district"),
                base_url=request.build_absolute_uri("/"),
                ip=client_ip(request),
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Invitation sent to %(username)s at %(mobile)s; the link expires in %(hours)s hours.")
                % {
                    "username": sent.user.username,
                    "mobile": sent.user.mobile,
                    "hours": settings.PRAHARI_INVITATION_HOURS,
                },
            )
            return redirect("admin:accounts_user_change", sent.user.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Invite an account"),
        "form": form,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/accounts/invite.html", context)


class InviteFileForm(forms.Form):
    facility = forms.ModelChoiceField(
        label=gettext_lazy("Facility"),
        queryset=Facility.objects.none(),
        help_text=gettext_lazy("For rows without a facility code."),
    )
    file = forms.FileField(
        label=gettext_lazy("CSV file (UTF-8)"),
        help_text=gettext_lazy("Columns: first_name, last_name, mobile; optional: email, username, facility."),
    )
    import_valid_rows = forms.BooleanField(
        label=gettext_lazy("If some rows are wrong, import the valid rows anyway"), required=False
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = governable_facilities(viewer).select_related("district")


def invite_file_view(model_admin, request):
    """Bulk onboarding from a CSV file: every row checked first, then all (or the valid ones) invited."""
    if not request.user.has_perm("accounts.invite_user"):
        raise PermissionDenied
    if (bounce := step_up_redirect(request)) is not None:
        return bounce
    form = InviteFileForm(request.POST or None, request.FILES or None, viewer=request.user)
    report = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = invitations_import(
                acting_user=request.user,
                facility=data["facility"],
                data=data["file"].read(MAX_BYTES + 1),  # never more than the limit into memory
                import_valid_rows=data["import_valid_rows"],
                base_url=request.build_absolute_uri("/"),
                ip=client_ip(request),
            )
        except DomainError as error:
            form.add_error("file", str(error))
        else:
            if report.imported:
                messages.success(
                    request,
                    _("%(imported)d of %(rows)d rows invited; %(bad)d rows not imported.")
                    % {"imported": report.imported, "rows": report.rows, "bad": len(report.problems)},
                )
            else:
                messages.error(
                    request,
                    _("Nothing was imported: %(bad)d of %(rows)d rows need correcting.")
                    % {"bad": len(report.problems), "rows": report.rows},
                )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Invite health workers from a file"),
        "form": form,
        "report": report,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/accounts/invite_file.html", context)


def onboarding_actions(reasoned_action):
    """The approve, reject, revoke-link and re-send-link actions, built by accounts.admin's `reasoned_action`
    (reason and code on one page; a re-sent link asks only the code)."""
    approve = reasoned_action(
        onboarding_approve,
        "approve_onboarding",
        gettext_lazy("Approve selected enrolments (and their devices)"),
        ngettext_lazy("%(count)d account approved.", "%(count)d accounts approved.", "count"),
    )
    reject = reasoned_action(
        onboarding_reject,
        "reject_onboarding",
        gettext_lazy("Reject selected enrolments"),
        ngettext_lazy("%(count)d account rejected.", "%(count)d accounts rejected.", "count"),
    )
    revoke = reasoned_action(
        invitation_revoke,
        "revoke_invitation",
        gettext_lazy("Revoke the invitation link"),
        ngettext_lazy("%(count)d link revoked.", "%(count)d links revoked.", "count"),
    )
    resend = reasoned_action(
        invitation_resend,
        "resend_invitation",
        gettext_lazy("Re-send the invitation link"),
        ngettext_lazy("%(count)d link sent.", "%(count)d links sent.", "count"),
        with_reason=False,
        extra=lambda request: {"base_url": request.build_absolute_uri("/")},
    )
    return approve, reject, revoke, resend
