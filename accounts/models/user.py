"""The account: one user model from the first migration, with its lifecycle status and jurisdiction."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models.jurisdiction import District, Facility, State


class Role(models.TextChoices):
    WORKER = "worker", _("Health worker")
    SUPERVISOR = "supervisor", _("Supervisor")
    STATE_ADMIN = "state_admin", _("State administrator")


class Status(models.TextChoices):
    """The one account lifecycle of ARCHITECTURE.md §3."""

    INVITED = "invited", _("Invited")
    PENDING_APPROVAL = "pending_approval", _("Pending approval")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    DEACTIVATED = "deactivated", _("Deactivated")


class SuspensionCause(models.TextChoices):
    DORMANT = "dormant", _("Dormant account")
    REVERIFICATION_OVERDUE = "reverification_overdue", _("Re-verification overdue")
    REVIEW_REVOKED = "review_revoked", _("Access revoked at re-verification")
    ANOMALY = "anomaly", _("Unusual record access")
    CANARY = "canary", _("Canary record opened")
    MANUAL = "manual", _("Suspended by a supervisor")


# Causes whose reinstatement belongs to a state administrator (a possible breach, not an admin slip).
FLAGGED_CAUSES = frozenset({SuspensionCause.ANOMALY, SuspensionCause.CANARY})

mobile_validator = RegexValidator(
    r"^\+91[6-9]\d{9}$", _("Enter an Indian mobile number as +91 followed by 10 digits starting 6 to 9.")
)


class PrahariUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("status", Status.ACTIVE)
        extra_fields.setdefault("role", "")  # set-up accounts hold no governed role
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person with a Prahari account (or the named system actor that jobs act as)."""

    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.INVITED)
    suspension_cause = models.CharField(
        _("suspension cause"), max_length=30, choices=SuspensionCause.choices, blank=True
    )
    status_reason = models.TextField(_("reason for the current status"), blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.WORKER, blank=True)
    facility = models.ForeignKey(
        Facility,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="workers",
        verbose_name=_("facility"),
        help_text=_("The facility a health worker works at."),
    )
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supervisors",
        verbose_name=_("governed district"),
        help_text=_("The district a supervisor governs."),
    )
    state = models.ForeignKey(
        State,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="administrators",
        verbose_name=_("governed state"),
        help_text=_("The state a state administrator governs."),
    )
    mobile = models.CharField(_("mobile number"), max_length=13, blank=True, validators=[mobile_validator])
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=[("en", "English"), ("hi", "हिन्दी")], default="hi"
    )
    # Re-verification (access review): when the next one is due, whether the owner must re-confirm
    # (fresh OTP + the current undertaking) at their next login, and the last reminder sent (days before).
    review_due_at = models.DateTimeField(_("re-verification due"), null=True, blank=True, db_index=True)
    reconfirm_pending = models.BooleanField(_("re-confirmation pending"), default=False)
    review_reminder_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # The newest data-use undertaking version this account accepted (kept by undertaking_accept), so the
    # re-confirmation gate compares two numbers instead of querying on every request.
    undertaking_version = models.PositiveIntegerField(_("undertaking accepted"), null=True, blank=True, editable=False)
    is_system = models.BooleanField(
        _("system actor"),
        default=False,
        editable=False,
        help_text=_("The named actor that scheduled jobs act as. It can never log in."),
    )

    history = HistoricalRecords(excluded_fields=["password", "last_login"])
    objects = PrahariUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            # A deactivated username is never reused, whatever its letter case.
            models.UniqueConstraint(Lower("username"), name="username_unique_ignoring_case"),
            models.UniqueConstraint(fields=["mobile"], condition=~models.Q(mobile=""), name="mobile_unique_when_set"),
            models.CheckConstraint(
                name="role_has_its_jurisdiction",
                condition=(
                    models.Q(is_superuser=True)
                    | models.Q(is_system=True)
                    | models.Q(role=Role.WORKER, facility__isnull=False)
                    | models.Q(role=Role.SUPERVISOR, district__isnull=False)
                    | models.Q(role=Role.STATE_ADMIN, state__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="suspension_cause_only_when_suspended",
                condition=models.Q(status=Status.SUSPENDED, suspension_cause__gt="")
                | (~models.Q(status=Status.SUSPENDED) & models.Q(suspension_cause="")),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "last_login"], name="user_status_last_login"),
            # The console counts a district's accounts by state and due date facility by facility (P6).
            models.Index(fields=["facility", "status"], name="user_facility_status"),
            models.Index(fields=["facility", "review_due_at"], name="user_facility_review_due"),
        ]
        permissions = [
            ("invite_user", "Can invite accounts"),
            ("approve_user", "Can approve or reject enrolled accounts"),
            ("suspend_user", "Can suspend accounts"),
            ("reinstate_user", "Can reinstate suspended accounts"),
            ("reinstate_flagged_user", "Can reinstate accounts suspended for anomalies or canaries"),
            ("deactivate_user", "Can deactivate (offboard) accounts"),
            ("attest_user", "Can attest re-verification of accounts"),
            ("unlock_user", "Can clear lockouts"),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    def save(self, *args, **kwargs) -> None:
        # A login stamp or a new password hash is not a governed change: no history row for it
        # (the password change is recorded as an AccountEvent by its service instead).
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
            self.skip_history_when_saving = True
            try:
                super().save(*args, **kwargs)
            finally:
                del self.skip_history_when_saving
            return
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise models.ProtectedError(
            "Accounts are never deleted: deactivate them so the username and history stay.", {self}
        )

    @property
    def is_governable_role(self) -> bool:
        return not (self.is_superuser or self.is_system)
