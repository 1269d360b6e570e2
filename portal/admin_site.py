"""The supervisor console: django-otp's OTP-only admin site, open only to active accounts."""

from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from accounts.models import Status


class PrahariAdminSite(OTPAdminSite):
    site_header = _("Prahari — supervisor console")
    site_title = _("Prahari")
    index_title = _("Governance")

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def has_permission(self, request) -> bool:
        """Staff, OTP-verified (django-otp) and with an active account."""
        user = request.user
        return super().has_permission(request) and getattr(user, "status", None) == Status.ACTIVE
