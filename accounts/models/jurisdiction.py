"""The jurisdiction tree: State → District → Facility, with official-style codes.

Codes follow the shapes officials already use: the two-digit LGD state code, the LGD district
code (up to 3 digits) and the facility's 10-digit National Identification Number (NIN).
"""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class State(models.Model):
    code = models.CharField(
        _("LGD state code"),
        max_length=2,
        unique=True,
        validators=[RegexValidator(r"^\d{2}$", _("A state code is two digits (LGD)."))],
    )
    name = models.CharField(_("name"), max_length=100, unique=True)
    name_hi = models.CharField(_("name in Hindi"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("state")
        verbose_name_plural = _("states")

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="districts", verbose_name=_("state"))
    code = models.CharField(
        _("LGD district code"),
        max_length=3,
        unique=True,
        validators=[RegexValidator(r"^\d{1,3}$", _("A district code is up to three digits (LGD)."))],
    )
    name = models.CharField(_("name"), max_length=100)
    name_hi = models.CharField(_("name in Hindi"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        constraints = [models.UniqueConstraint(fields=["state", "name"], name="district_name_unique_in_state")]

    def __str__(self) -> str:
        return self.name


class Facility(models.Model):
    class Kind(models.TextChoices):
        DISTRICT_HOSPITAL = "DH", _("District hospital")
        CHC = "CHC", _("Community health centre")
        PHC = "PHC", _("Primary health centre")
        SUB_CENTRE = "SC", _("Sub-centre")
        SESSION_SITE = "CVC", _("Vaccination centre")

    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("district")
    )
    code = models.CharField(
        _("NIN facility code"),
        max_length=10,
        unique=True,
        validators=[RegexValidator(r"^\d{10}$", _("A facility code is the 10-digit NIN."))],
    )
    name = models.CharField(_("name"), max_length=150)
    name_hi = models.CharField(_("name in Hindi"), max_length=150, blank=True)
    kind = models.CharField(_("kind"), max_length=3, choices=Kind.choices, default=Kind.PHC)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
