"""Governed health records: beneficiaries (synthetic only), their doses, and the tamper-evident access log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import Facility, RegisteredDevice


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


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("This log is append-only: rows cannot be updated.")

    def delete(self):
        raise ValueError("This log is append-only: rows cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A log's row, only ever added: the ORM refuses to change or delete one, alone or in bulk."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError(f"{self._meta.object_name} is append-only: a row cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self._meta.object_name} is append-only: a row cannot be deleted.")


class AccessEvent(AppendOnlyModel):
    """One search, view, reveal or refusal. Append-only and hash-chained per actor (see records/audit.py)."""

    class Action(models.TextChoices):
        SEARCH = "search", _("Search")
        VIEW = "view", _("View")
        REVEAL = "reveal", _("Reveal")

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        NOT_FOUND = "not_found", _("Not found")
        OUT_OF_SCOPE = "out_of_scope", _("Out of scope")
        OVER_BUDGET = "over_budget", _("Over the daily limit")
        REFUSED = "refused", _("Refused")
        CANARY = "canary", _("Canary opened")
        CONSENT_ASKED = "consent_asked", _("Consent code sent")  # the record opens with the beneficiary's code

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # Every append writes each index of this table: the foreign keys carry none of their own where a
    # composite index starts with them (actor, beneficiary), and devices are never deleted (device).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="access_events",
        verbose_name=_("actor"),
        db_index=False,
    )
    actor_seq = models.PositiveBigIntegerField(_("sequence"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    outcome = models.CharField(_("outcome"), max_length=15, choices=Outcome.choices)
    beneficiary = models.ForeignKey(
        Beneficiary,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="access_events",
        verbose_name=_("beneficiary"),
        db_index=False,
    )
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    detail = models.JSONField(_("details"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    device = models.ForeignKey(
        RegisteredDevice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("device"),
        db_index=False,
    )
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    # The pace of the actor's latest requests, written by the append (records/audit.py) for the cadence rule:
    # the mean and the standard deviation (population) of the gaps, in seconds, between the
    # PRAHARI_ANOMALY_CADENCE_REQUESTS requests of the chain ending with this one; NULL while the chain is
    # shorter. Derived from the chained times (a verifier can recompute them), so not part of the hash.
    pace_mean = models.FloatField(null=True, editable=False)
    pace_sd = models.FloatField(null=True, editable=False)

    class Meta:
        verbose_name = _("access event")
        verbose_name_plural = _("access events")
        # Partitioned by month (migration 0018): a unique constraint holds created_at; the chain heads keep seq unique.
        constraints = [
            models.UniqueConstraint(fields=["actor", "actor_seq", "created_at"], name="access_event_seq_per_actor")
        ]
        indexes = [
            models.Index(fields=["actor", "created_at"], name="access_event_actor_time"),
            models.Index(fields=["beneficiary", "created_at"], name="access_event_record_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.actor_id}/{self.actor_seq} {self.action} {self.outcome}"


class AccessChainHead(models.Model):
    """The last link of each actor's chain (sequence number and hash) and the actor's counts for the day.

    Appends lock only their own actor's head, so workers never queue behind one another; a
    deleted last event shows as a head ahead of the chain. The same lock makes the daily budget
    exact: two requests of one worker cannot both take the 300th look-up. The counts are a
    running tally of the chained events (look-ups and reveals since local midnight), kept here so
    a look-up does not count rows; `day` says which day they belong to.
    """

    actor = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    day = models.DateField(null=True)
    lookups = models.PositiveIntegerField(default=0)
    reveals = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.actor_id}: {self.seq}"


class ChainCheckpoint(models.Model):
    """The chain head (sequence number and hash) the `checkpoints` job last wrote to a signed checkpoint file.

    Bookkeeping only, so that a run writes just the heads that moved (records/checkpoints.py): verify_audit
    reads the files, never this table, so changing it can only cause extra checkpoints.
    """

    actor = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.actor_id}: {self.seq}"


class AnomalyWatermark(models.Model):
    """How far a governance job has scored an append-only log: the id of the last event it scored.

    One row per log and job (`stream`): for the `anomalies` job "access_events" (records.AccessEvent) and
    "account_events" (failed logins, accounts.AccountEvent), moved in the same transaction as the alerts
    it raises; for the `explain` job "explanations", the access events it has judged.
    """

    class Stream(models.TextChoices):
        ACCESS_EVENTS = "access_events", _("Access events")
        ACCOUNT_EVENTS = "account_events", _("Account events")
        EXPLANATIONS = "explanations", _("Access events explained")  # the `explain` job's

    stream = models.CharField(_("log"), max_length=20, choices=Stream.choices, primary_key=True)
    last_id = models.PositiveBigIntegerField(_("last event scored"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("anomaly watermark")
        verbose_name_plural = _("anomaly watermarks")

    def __str__(self) -> str:
        return f"{self.stream}: {self.last_id}"


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
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("worker")
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
