"""Onboarding: invitations and the data-use undertaking (access reviews are governance's, governance/models.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Invitation(models.Model):
    """A single-use enrolment link for an invited account. Only the token's SHA-256 is stored."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        USED = "used", _("Used")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invitations", verbose_name=_("account")
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("invited by")
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    state = models.CharField(_("status"), max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    history = HistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["state", "expires_at"], name="invitation_open_expiry")]
        constraints = [
            # At most one open link per account: a re-send replaces it.
            models.UniqueConstraint(fields=["user"], condition=models.Q(state="open"), name="one_open_invitation")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_state_display()}"


class Undertaking(models.Model):
    """A version of the data-use undertaking every account accepts at enrolment and re-confirmation."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    text = models.TextField(_("text"))
    text_hi = models.TextField(_("text (Hindi)"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("data-use undertaking")
        verbose_name_plural = _("data-use undertakings")

    def __str__(self) -> str:
        return f"v{self.version}"


class UndertakingAcceptance(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="undertakings", verbose_name=_("account")
    )
    undertaking = models.ForeignKey(Undertaking, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(_("accepted"), default=timezone.now)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("undertaking acceptance")
        verbose_name_plural = _("undertaking acceptances")

    def __str__(self) -> str:
        return f"{self.user} v{self.undertaking.version}"
