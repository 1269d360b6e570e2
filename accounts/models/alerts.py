"""Alert: something a rule noticed about an account (canary opened, unusual access), for a supervisor to decide."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Alert(models.Model):
    class Severity(models.IntegerChoices):
        LOW = 10, _("Low")
        MEDIUM = 20, _("Medium")
        HIGH = 30, _("High")
        CRITICAL = 40, _("Critical")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    rule = models.CharField(_("rule"), max_length=40)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("account")
    )
    # The numbers and the events behind them, in a form a supervisor can read.
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=State.choices, default=State.OPEN)
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
    created_at = models.DateTimeField(_("raised"), auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-severity", "-created_at"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["status", "severity"], name="alert_status_severity")]
        permissions = [("decide_alert", "Can confirm or dismiss alerts")]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} · {self.rule} · {self.subject_id}"
