"""LoginHold: the bar after a third lockout in 24 hours, which only a supervisor's audited unlock lifts."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.dates import written_moment


class LoginHold(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="login_holds", verbose_name=_("user")
    )
    created_at = models.DateTimeField(_("held since"), auto_now_add=True)
    lockouts = models.PositiveSmallIntegerField(_("lockouts in 24 hours"))
    cleared_at = models.DateTimeField(_("unlocked at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("unlocked by"),
    )
    clear_reason = models.TextField(_("reason for unlocking"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("login hold")
        verbose_name_plural = _("login holds")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(cleared_at__isnull=True), name="one_open_hold_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {written_moment(self.created_at)}"
