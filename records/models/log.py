"""The tamper-evident access log and what the governance jobs keep about it: chain heads, checkpoints, watermarks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import RegisteredDevice
from records.models.people import Beneficiary


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
