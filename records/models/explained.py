"""What explains a look-up, and a beneficiary's look at who opened their record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from records.models.log import AccessEvent, AppendOnlyModel
from records.models.people import Beneficiary


class AccessExplanation(models.Model):
    """Why one allowed view or reveal of a record was part of real work: the appointment, dose or consent
    that explains it (the `explain` job, records/explain.py) or a supervisor's review that accepted it.

    At most one per access event; written once, never changed. The access log itself stays append-only:
    an event without a row here, once the `explain` job has judged it, is an unexplained look-up.
    """

    class Kind(models.TextChoices):
        APPOINTMENT = "appointment", _("appointment")
        DOSE = "dose", _("dose given")
        CONSENT = "consent", _("beneficiary's consent")
        REVIEW = "review", _("supervisor's review")

    event = models.OneToOneField(  # no database constraint: none can point into the partitioned log by id alone
        AccessEvent,
        models.PROTECT,
        primary_key=True,
        related_name="explanation",
        verbose_name=_("look-up"),
        db_constraint=False,
    )
    actor = models.ForeignKey(  # the event's actor, whose own key is checked: not again for every explanation
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("worker"),
    )
    event_at = models.DateTimeField(_("look-up time"))  # the event's, for a worker's share over a period
    kind = models.CharField(_("explained by"), max_length=12, choices=Kind.choices)
    source_id = models.BigIntegerField(_("appointment, dose or consent"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # indexed only where set (Meta): nearly every explanation is the job's, with no reviewer
        verbose_name=_("accepted by"),
    )
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("explained at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access explanation")
        verbose_name_plural = _("access explanations")
        indexes = [
            models.Index(fields=["actor", "event_at"], name="explanation_actor_time"),
            models.Index(
                fields=["reviewed_by"], name="explanation_reviewer", condition=models.Q(reviewed_by__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.event_id} {self.kind}"


class TransparencyEvent(AppendOnlyModel):
    """One step of a beneficiary's look at who opened their record (records/transparency.py): a code asked for
    (its row is the challenge, `sent` or `no_match` alike), a code typed against a challenge, a history page
    shown, or a refusal past a limit. Append-only. The reference id and mobile typed are kept only as keyed
    hashes (to count the limits), the code only as a keyed hash on its challenge, never in clear."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("code sent")
        NO_MATCH = "no_match", _("no record matched")
        NOT_SENT = "not_sent", _("the SMS could not be sent")
        LIMITED = "limited", _("refused: too many requests")
        WRONG = "wrong", _("wrong code")
        REFUSED = "refused", _("code expired, spent or out of tries")
        OPENED = "opened", _("history opened")
        SHOWN = "shown", _("history shown")

    created_at = models.DateTimeField(_("time"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    beneficiary = models.ForeignKey(
        Beneficiary, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("beneficiary")
    )
    challenge = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reference_key = models.CharField(max_length=64, blank=True)
    mobile_key = models.CharField(max_length=64, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("transparency request")
        verbose_name_plural = _("transparency requests")
        indexes = [
            models.Index(fields=["ip_address", "created_at"], name="transparency_ip_time"),
            models.Index(fields=["reference_key", "created_at"], name="transparency_reference_time"),
            models.Index(fields=["mobile_key", "created_at"], name="transparency_mobile_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.outcome}"
