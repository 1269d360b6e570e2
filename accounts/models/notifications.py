"""The outbox: every notification is a row written with the change that causes it, then sent by a task."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    to = models.CharField(_("recipient"), max_length=254)
    kind = models.CharField(_("kind"), max_length=40)
    language = models.CharField(max_length=5, default="hi")
    context = models.JSONField(default=dict, blank=True)
    # One event, one message per channel and recipient: a retried job or task cannot send it twice.
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"], name="notification_state_time")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.channel} ({self.state})"
