"""AccountEvent: the explicit, enumerated record of governance events (who did what to whom, and why)."""

from enum import unique

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.dates import written_moment


@unique
class AccountEventType(models.IntegerChoices):
    """Banded codes, never renumbered: 1xx lifecycle, 2xx authentication, 3xx devices, 4xx reviews."""

    USER_CREATED = 100, _("Account created")
    USER_INVITED = 101, _("Account invited")
    USER_ENROLLED = 102, _("Account enrolled")
    USER_APPROVED = 103, _("Account approved")
    USER_REJECTED = 104, _("Account rejected")
    USER_SUSPENDED = 110, _("Account suspended")
    USER_REINSTATED = 111, _("Account reinstated")
    USER_DEACTIVATED = 112, _("Account deactivated")
    USER_EXPIRED = 113, _("Invitation expired")
    INVITATION_SENT = 114, _("Invitation sent")
    INVITATION_REVOKED = 115, _("Invitation revoked")
    UNDERTAKING_ACCEPTED = 116, _("Data-use undertaking accepted")
    SESSIONS_ENDED = 120, _("Sessions ended")

    LOGIN_SUCCEEDED = 200, _("Login succeeded")
    LOGIN_FAILED = 201, _("Login failed")
    OTP_FAILED = 202, _("OTP failed")
    LOCKED_OUT = 203, _("Locked out")
    LOCKOUT_CLEARED = 204, _("Lockout cleared")
    LOGIN_HELD = 205, _("Login held until a supervisor unlocks")
    LOGIN_REFUSED = 206, _("Login refused after password and OTP")
    OTP_SMS_SENT = 207, _("OTP code sent by SMS")
    STEP_UP_SUCCEEDED = 208, _("Step-up verification succeeded")
    PASSWORD_CHANGED = 210, _("Password changed")
    PASSWORD_RESET_REQUESTED = 211, _("Password reset requested")
    PASSWORD_RESET = 212, _("Password reset")
    OTP_DEVICE_ADDED = 220, _("OTP device added")
    OTP_DEVICE_REMOVED = 221, _("OTP device removed")
    BACKUP_CODES_GENERATED = 222, _("Backup codes generated")
    MOBILE_CHANGED = 223, _("Mobile number changed")
    LOGGED_OUT = 230, _("Logged out")

    DEVICE_REGISTERED = 300, _("Device registered (pending)")
    DEVICE_APPROVED = 301, _("Device approved")
    DEVICE_REJECTED = 302, _("Device rejected")
    DEVICE_REVOKED = 303, _("Device revoked")

    REVIEW_ATTESTED = 400, _("Access re-verification attested")
    REVIEW_REVOKED = 401, _("Access revoked at re-verification")
    REVIEW_RECONFIRMED = 402, _("Re-verification confirmed by the account owner")
    REVIEW_REMINDED = 403, _("Re-verification reminder sent")


class AccountEventQuerySet(models.QuerySet):
    """Refuses the bulk paths past save() and delete(): `update()`, `bulk_update()` and `delete()` of a
    queryset, on `AccountEvent.objects` and on every related manager."""

    def update(self, **kwargs):
        raise ValueError("Account events are append-only: events cannot be updated.")

    def bulk_update(self, objs, fields, batch_size=None):
        # Refused before Django opens its atomic block: raising inside it would spoil the caller's transaction.
        raise ValueError("Account events are append-only: events cannot be updated.")

    def delete(self):
        raise ValueError("Account events are append-only: events cannot be deleted.")


class AccountEvent(models.Model):
    """One governance event. Rows are only ever added: the ORM refuses to change or delete them, alone or in
    bulk."""

    type = models.PositiveSmallIntegerField(_("event"), choices=AccountEventType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_actor",
        verbose_name=_("actor"),
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_subject",
        verbose_name=_("subject"),
        db_index=False,  # accountevent_subject_time (subject, -created_at) serves every lookup by subject
    )
    reason = models.TextField(_("reason"), blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = AccountEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        indexes = [
            models.Index(fields=["subject", "-created_at"], name="accountevent_subject_time"),
            models.Index(fields=["type", "-created_at"], name="accountevent_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.subject_id} · {written_moment(self.created_at)}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Account events are append-only: an existing event cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Account events are append-only: an event cannot be deleted.")
