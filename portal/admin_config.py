from django.contrib.admin.apps import AdminConfig


class PrahariAdminConfig(AdminConfig):
    """django.contrib.admin with the OTP-only supervisor console as the default site."""

    default_site = "portal.admin_site.PrahariAdminSite"
