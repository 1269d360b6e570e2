"""What the read path (records/services.py) gives a viewer: who reads, and a record as they may see it, masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from accounts.models import User
from accounts.sms import mask_mobile
from records.changes import mask_id_number
from records.models import Beneficiary


@dataclass(frozen=True)
class Viewer:
    user: User
    ip: str | None = None
    device_id: int | None = None


@dataclass(frozen=True)
class DoseRow:
    vaccine: str
    dose_number: int
    given_on: date
    facility: str


@dataclass(frozen=True)
class RecordSummary:
    """One search result: enough to recognise the person, identity numbers masked."""

    reference_id: str
    name: str
    year_of_birth: int
    gender: str
    facility: str


@dataclass(frozen=True)
class RecordView(RecordSummary):
    """A record as a viewer sees it: identity fields masked to their last 4 digits."""

    id_type: str = ""
    id_number_masked: str = ""
    mobile_masked: str = ""
    doses: list[DoseRow] = field(default_factory=list)
    no_mobile: bool = False  # "the beneficiary asked in person", but nobody can be asked: no mobile on the record
    explained_by: str | None = None  # what explains this look-up now (records/explain.py); None: unexplained


@dataclass(frozen=True)
class SearchResult:
    records: list[RecordSummary]
    more: bool  # more records matched than are shown


# The choices' labels by value, taken once: get_FOO_display() builds this table again on every call, translating
# every label to do so. A label is translated when it is shown (into the request's language), as there.
_GENDERS, _ID_TYPES = dict(Beneficiary.Gender.choices), dict(Beneficiary.IdType.choices)


def _label(labels: dict, value: str) -> str:
    return str(labels.get(value, value))


def _summary(record: Beneficiary) -> dict:
    return {
        "reference_id": record.reference_id,
        "name": record.name,
        "year_of_birth": record.year_of_birth,
        "gender": _label(_GENDERS, record.gender),
        "facility": record.facility.name,
    }


def record_summary(record: Beneficiary) -> RecordSummary:
    """A search result (the record's facility loaded)."""
    return RecordSummary(**_summary(record))


def record_view(record: Beneficiary, *, no_mobile: bool, explained_by: str | None) -> RecordView:
    """The record as its viewer sees it, masked; its doses as records/finding.py read them with it."""
    return RecordView(
        **_summary(record),
        id_type=_label(_ID_TYPES, record.id_type),
        id_number_masked=mask_id_number(record.id_number),
        mobile_masked=mask_mobile(record.mobile),
        doses=[DoseRow(*dose) for dose in record.doses_read],
        no_mobile=no_mobile,
        explained_by=explained_by,
    )
