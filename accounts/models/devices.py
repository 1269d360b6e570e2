"""RegisteredDevice: a browser or phone a supervisor approved for one worker (not django-otp's OTP Device)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class RegisteredDevice(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        REVOKED = "revoked", _("Revoked")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="registered_devices", verbose_name=_("user")
    )
    # SHA-256 of the browser's 256-bit token (held in a signed cookie); the token itself is never stored.
    # One browser may be registered by several users of a shared facility computer: unique per user.
    token_hash = models.CharField(max_length=64, editable=False)
    code = models.CharField(
        _("device code"), max_length=8, help_text=_("Read aloud to the supervisor to confirm which device to approve.")
    )
    label = models.CharField(_("device"), max_length=100, blank=True)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    first_ip = models.GenericIPAddressField(_("first IP address"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["token_hash", "last_seen_at"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("registered device")
        verbose_name_plural = _("registered devices")
        constraints = [
            models.UniqueConstraint(fields=["user", "code"], name="device_code_unique_per_user"),
            models.UniqueConstraint(fields=["user", "token_hash"], name="device_token_unique_per_user"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="device_user_status"),
            # Devices waiting for a decision are few among many: the console counts them first (P6).
            models.Index(fields=["user"], condition=models.Q(status="pending"), name="device_pending"),
        ]
        permissions = [("approve_device", "Can approve, reject and revoke workers' devices")]

    def __str__(self) -> str:
        return f"{self.code} · {self.label or self.user_agent[:40]} · {self.user.username}"
