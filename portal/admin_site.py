"""The supervisor console: django-otp's OTP-only admin site, open only to active accounts."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.admin import ModelAdmin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from accounts.admin_guard import console_admin_class
from accounts.models import District, Role, State, Status
from accounts.services.passkeys import passkey_overdue
from accounts.views.passkeys import passkey_required_page


def console_header(user) -> str:
    """ "District supervisor console — Lucknow", "State administrator console — Uttar Pradesh", "Operator
    console" (superusers, who set the system up and keep its schedules); else the console's plain name."""
    from governance.dashboard_districts import place_name

    role = getattr(user, "role", None)
    if role == Role.SUPERVISOR and user.district_id:
        district = District.objects.only("name", "name_hi").get(pk=user.district_id)
        return _("District supervisor console — %(district)s") % {"district": place_name(district)}
    if role == Role.STATE_ADMIN and user.state_id:
        state = State.objects.only("name", "name_hi").get(pk=user.state_id)
        return _("State administrator console — %(state)s") % {"state": place_name(state)}
    if getattr(user, "is_superuser", False):
        return _("Operator console")
    return str(PrahariAdminSite.site_header)


class PrahariAdminSite(OTPAdminSite):
    site_header = _("Prahari console")
    site_title = _("Prahari")
    index_title = _("Governance")
    index_template = "admin/prahari_index.html"

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def get_urls(self):
        """Without the admin's generic helpers no page declares: the autocomplete search (no page has an
        autocomplete field) and the "view on site" shortcut (no model has a public page; it would only say
        whether an object of any type and id exists)."""
        return [url for url in super().get_urls() if getattr(url, "name", None) not in ("autocomplete", "view_on_site")]

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every page answers only what it declares, the installed apps' own admins too (accounts/admin_guard.py)."""
        super().register(model_or_iterable, console_admin_class(admin_class or ModelAdmin), **options)

    @method_decorator(login_not_required)
    def login(self, request, extra_context=None):
        """One door for everyone: the console signs in through the login flow (password, OTP, device)."""
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('accounts:login')}?{urlencode({REDIRECT_FIELD_NAME: target})}")

    def each_context(self, request):
        """Every console page's header names the viewer's console: their role and where they govern."""
        return {**super().each_context(request), "site_header": console_header(request.user)}

    def index(self, request, extra_context=None):
        """The dashboard of the viewer's jurisdiction above the list of models."""
        from governance.dashboard import dashboard_for

        return super().index(request, {**(extra_context or {}), "dashboard": dashboard_for(request.user)})

    def password_change(self, request, extra_context=None):
        """The console's "change password" is the portal's own (it ends the other sessions and notifies)."""
        return redirect("accounts:password-change")

    def admin_view(self, view, cacheable=False):
        """Every console page refuses a role that must have a passkey, past the deadline, while it has none: a
        page says what to do (register one on the security page). The rest of the portal stays open to them."""
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def guarded(request, *args, **kwargs):
            user = request.user
            if user.is_authenticated and self.has_permission(request) and passkey_overdue(user):
                return passkey_required_page(request)
            return inner(request, *args, **kwargs)

        return guarded

    def has_permission(self, request) -> bool:
        """Staff, OTP-verified (django-otp) and with an active account."""
        user = request.user
        return super().has_permission(request) and getattr(user, "status", None) == Status.ACTIVE
