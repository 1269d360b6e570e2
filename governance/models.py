"""Governance's own rows: the access reviews (re-verification decisions) and the console's view tallies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.dates import written_date
from accounts.models import District


class AccessReview(models.Model):
    """One re-verification decision: the reviewer saw `usage` for the period and attested or revoked."""

    class Decision(models.TextChoices):
        ATTEST = "attest", _("Attested")
        REVOKE = "revoke", _("Revoked")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_reviews", verbose_name=_("account")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("reviewer")
    )
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    reason = models.TextField(_("reason"))
    period_start = models.DateTimeField(_("period from"))
    period_end = models.DateTimeField(_("period to"))
    usage = models.JSONField(_("usage in the period"), default=dict)
    created_at = models.DateTimeField(_("decided"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("access review")
        verbose_name_plural = _("access reviews")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_decision_display()} · {written_date(self.created_at)}"


class DistrictViewDay(models.Model):
    """Record views (allowed `view` events) per district, local day and role of the reader.

    A running tally kept by the `anomalies` job from the same window of new events it scores, so the
    console's chart reads at most 30 rows per district whatever the number of workers or events
    (ARCHITECTURE.md §8, benchmark P6). The reader's district is their facility's (workers) or
    their own (supervisors) when the job counted the event.
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    role = models.CharField(max_length=20)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "day", "role"], name="district_view_day_unique")]

    def __str__(self) -> str:
        return f"{self.district_id} {self.day} {self.role}: {self.views}"


class ReaderViewWeek(models.Model):
    """Record views per reader and local week (from Monday), with the reader's district and role.

    Kept with DistrictViewDay; the index gives a district's busiest readers of a week without
    reading its other workers' rows.
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    week = models.DateField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "week", "actor"], name="reader_view_week_unique"),
        ]
        indexes = [
            models.Index("district", "week", "role", models.F("views").desc(), "actor", name="reader_week_busiest"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.week}: {self.views}"
