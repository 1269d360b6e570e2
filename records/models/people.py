"""Beneficiaries (synthetic only), their doses, their appointments at vaccination sessions and their consents."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import Facility


class Beneficiary(models.Model):
    """A citizen's vaccination record. Identity numbers are shown masked (last 4) until revealed."""

    class Gender(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        OTHER = "O", _("Other")

    class IdType(models.TextChoices):
        AADHAAR = "aadhaar", _("Aadhaar")
        VOTER = "voter", _("Voter ID")
        PAN = "pan", _("PAN card")
        PASSPORT = "passport", _("Passport")
        DRIVING = "driving", _("Driving licence")

    reference_id = models.CharField(
        _("reference id"),
        max_length=14,
        unique=True,
        validators=[RegexValidator(r"^\d{14}$", _("A reference id is 14 digits."))],
    )
    name = models.CharField(_("name"), max_length=150)
    year_of_birth = models.PositiveSmallIntegerField(_("year of birth"))
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    id_type = models.CharField(_("identity document"), max_length=10, choices=IdType.choices)
    id_number = models.CharField(_("identity document number"), max_length=20)
    mobile = models.CharField(_("mobile number"), max_length=13, blank=True)
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="beneficiaries", verbose_name=_("facility")
    )
    # A canary looks like any other record; no legitimate task ever opens one.
    is_canary = models.BooleanField(_("canary"), default=False)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("beneficiary")
        verbose_name_plural = _("beneficiaries")
        indexes = [models.Index(fields=["mobile", "name"], name="beneficiary_mobile_name")]

    def __str__(self) -> str:
        return f"{self.reference_id}"


class Dose(models.Model):
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="doses")
    vaccine = models.CharField(_("vaccine"), max_length=60)
    dose_number = models.PositiveSmallIntegerField(_("dose"))
    given_on = models.DateField(_("date"))
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    administered_by = models.ForeignKey(  # the worker who gave it; unknown for doses recorded before
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("given by"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["given_on", "dose_number"]
        verbose_name = _("dose")
        verbose_name_plural = _("doses")
        constraints = [
            models.UniqueConstraint(
                fields=["beneficiary", "vaccine", "dose_number"], name="one_dose_number_per_vaccine"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vaccine} {self.dose_number} · {self.given_on}"


class Appointment(models.Model):
    """A beneficiary due at a facility's vaccination session on a date: one line of the session's due list."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        ATTENDED = "attended", _("attended")
        MISSED = "missed", _("missed")
        CANCELLED = "cancelled", _("cancelled")

    beneficiary = models.ForeignKey(
        Beneficiary, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("beneficiary")
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    date = models.DateField(_("session date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date", "pk"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            models.UniqueConstraint(fields=["beneficiary", "facility", "date"], name="one_appointment_per_session")
        ]
        indexes = [models.Index(fields=["facility", "date"], name="appointment_due_list")]

    def __str__(self) -> str:
        return f"{self.beneficiary} · {self.date}"


class Consent(models.Model):
    """A beneficiary's consent to one worker's look-up of their record, proven by a one-time code sent to
    the beneficiary's registered mobile; given, it holds for that worker and beneficiary until the end of
    the local day. The code is kept only as a keyed hash."""

    beneficiary = models.ForeignKey(
        Beneficiary, on_delete=models.PROTECT, related_name="consents", verbose_name=_("beneficiary")
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("worker")
    )
    mobile = models.CharField(_("code sent to"), max_length=13)
    code_hash = models.CharField(max_length=64)
    sent_at = models.DateTimeField(_("code sent"), default=timezone.now)
    code_expires_at = models.DateTimeField(_("code expires"))
    tries = models.PositiveSmallIntegerField(_("wrong codes"), default=0)
    given_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["code_hash"])

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [
            models.Index(fields=["worker", "beneficiary", "-sent_at"], name="consent_of_worker"),
            models.Index(fields=["beneficiary", "-sent_at"], name="consent_of_beneficiary"),
        ]

    def __str__(self) -> str:
        return f"{self.beneficiary} → {self.worker_id} · {self.sent_at:%Y-%m-%d}"
