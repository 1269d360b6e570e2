"""Governed health records: beneficiaries (synthetic only), their doses, and the tamper-evident access log."""

from records.models.explained import AccessExplanation, TransparencyEvent
from records.models.log import (
    AccessChainHead,
    AccessEvent,
    AnomalyWatermark,
    AppendOnlyModel,
    AppendOnlyQuerySet,
    ChainCheckpoint,
)
from records.models.people import Appointment, Beneficiary, Consent, Dose

__all__ = [
    "AccessChainHead",
    "AccessEvent",
    "AccessExplanation",
    "AnomalyWatermark",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "Appointment",
    "Beneficiary",
    "ChainCheckpoint",
    "Consent",
    "Dose",
    "TransparencyEvent",
]
