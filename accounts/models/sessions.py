"""UserSession: Django's database session, extended with the user it belongs to.

Knowing the owner of every session lets a service end all of a user's sessions in one statement
(suspension, deactivation, device revocation, password change) and lets a worker list their own.
"""

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserSession(AbstractBaseSession):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("user"),
    )
    device = models.ForeignKey(
        "accounts.RegisteredDevice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("device"),
    )
    passkey = models.ForeignKey(  # the passkey that stood in for the code at this sign-in: revoking it ends the session
        "django_otp_webauthn.WebAuthnCredential",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("passkey"),
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), auto_now=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [models.Index(fields=["user", "expire_date"], name="usersession_user_expiry")]

    @classmethod
    def get_session_store_class(cls):
        """The configured SESSION_ENGINE's store (for `get_decoded`), found by name: models never import it."""
        return import_module(settings.SESSION_ENGINE).SessionStore
