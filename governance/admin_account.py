"""The console's account page (the hub) and the page behind each of its buttons: the reason and, past the
step-up window, a fresh one-time code on that one page, then the action's service.

The account is read through the viewer's scope (404 outside it, as for no such account); the action comes
from the URL and the device must be the account's; the service checks the right to act again. Every change
is a POST with its CSRF token, and the page then goes back to the account page (never to a URL the request
names).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django_otp_webauthn.models import WebAuthnCredential

from accounts.admin_common import code_confirmed, reason_code_form
from accounts.exceptions import DomainError
from accounts.models import RegisteredDevice, User
from accounts.permissions import refusal
from accounts.request_info import client_ip
from accounts.scoping import governable_users
from governance.account_actions import HUB_ACTIONS, HubAction
from governance.account_hub import account_hub_read


class AccountHubConsole:
    """For the account admin: its change view is the hub; `<id>/act/<action>/[<device>/]` are its actions."""

    hub_template = "admin/accounts/user/account_hub.html"
    action_template = "admin/accounts/user/account_action.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.hub_action_view)
        return [
            path("<int:object_id>/act/<slug:name>/", view, name="accounts_user_act"),
            path("<int:object_id>/act/<slug:name>/<int:device_id>/", view, name="accounts_user_act_device"),
            *super().get_urls(),
        ]

    def _account(self, request, object_id) -> User | None:
        """The account `object_id` if the viewer governs it; None for no such account and for "not yours" alike."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if not (str(object_id).isdigit() and len(str(object_id)) <= 18):  # a bigint at most, never a 500
            return None
        accounts = governable_users(request.user).select_related("facility__district", "district", "state")
        return accounts.filter(pk=object_id).first()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            raise PermissionDenied  # nothing is edited here: each change is an action's own POST
        account = self._account(request, object_id)
        if account is None:  # as the admin answers: back to the index, saying no such account exists
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, str(object_id))
        context = {
            **self.admin_site.each_context(request),
            "title": str(account),
            "subtitle": None,
            "opts": self.model._meta,
            "original": account,
            "has_view_permission": True,
            "hub": account_hub_read(account, viewer=request.user),
            "access_log_url": f"{reverse('admin:records_accessevent_changelist')}?actor__id__exact={account.pk}",
            "events_url": f"{reverse('admin:accounts_accountevent_changelist')}?q={account.username}",
            "review_url": reverse("admin:accounts_user_review", args=[account.pk]),
            "history_url": reverse("admin:accounts_user_history", args=[account.pk]),
        }
        return TemplateResponse(request, self.hub_template, context)

    def _target(self, account: User, action: HubAction, device_id: int | None):
        if action.on_device != (device_id is not None):
            raise Http404
        if device_id is None:
            return account, None
        if action.on_passkey:
            passkey = WebAuthnCredential.objects.filter(pk=device_id, user=account).first()
            if passkey is None:
                raise Http404
            passkey.code, passkey.is_passkey = passkey.name, True  # the action page names it as it names a device
            return passkey, passkey
        device = RegisteredDevice.objects.filter(pk=device_id, user=account).first()
        if device is None:
            raise Http404
        return device, device

    @method_decorator(sensitive_post_parameters("token", "backup_code"))
    def hub_action_view(self, request, object_id: int, name: str, device_id: int | None = None):
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        account = self._account(request, object_id)
        action = HUB_ACTIONS.get(name)
        if account is None or action is None:
            raise Http404
        target, device = self._target(account, action, device_id)
        hub_url = reverse("admin:accounts_user_change", args=[account.pk])
        if request.method == "GET" and not action.may(request.user, account):
            refused = refusal(request.user, account, action.codename(account)) if action.codename else None
            self.message_user(request, refused or _("You may not take this action."), messages.ERROR)
            return redirect(hub_url)
        form = reason_code_form(request, bound=request.method == "POST", with_reason=action.with_reason)
        if form.is_valid():
            confirmed = code_confirmed(request, form)
            if confirmed is True:
                return self._run(request, action, account, target, device, form, hub_url)
            if confirmed is not False:
                return confirmed  # wrong codes locked the viewer's account: signed out
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}: {device.code + ' · ' if device else ''}{account}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": account,
            "action": action,
            "device": device,
            "form": form,
            "hub_url": hub_url,
        }
        return TemplateResponse(request, self.action_template, context)

    def _run(self, request, action: HubAction, account: User, target, device, form, hub_url: str):
        try:
            action.run(
                target,
                request.user,
                form.cleaned_data.get("reason", ""),
                client_ip(request),
                request.build_absolute_uri("/"),
            )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect(hub_url)
        facts = {"user": account, "code": device.code if device else ""}
        self.message_user(request, str(action.done) % facts, messages.SUCCESS)
        return redirect(hub_url)
