"""The read path's find of one record (records/services.py): one statement, written once and prepared.

It reads the record with its facility and the facility's district (the scope check needs them), what would
explain this look-up now (records/explain.py: `explained_by`) and the record's doses, in one round trip. The
text is put together once per process from the models; each look-up only executes it, through the append
path's cursor (records/statements.py: prepared once per connection, unless a transaction-mode pooler is in
front). Building the same select with the ORM on every look-up was most of a read's time in Python (bench P5).

The doses come with the record, before the read path has decided anything; records/services.py shows them
only once the look-up is allowed and its access event written, as it does the record itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import District, Facility, User
from records.explain import explanation_parameters, first_explanation
from records.models import Beneficiary, Dose
from records.statements import prepared_cursor

# The models as the statement loads them (every concrete field, in the models' order, as the ORM would).
_LOADED = (Beneficiary, Facility, District)
_WIDTHS = tuple(len(model._meta.concrete_fields) for model in _LOADED)
_NAMES = tuple(tuple(f.attname for f in model._meta.concrete_fields) for model in _LOADED)
_BENEFICIARY_FACILITY = Beneficiary._meta.get_field("facility")
_FACILITY_DISTRICT = Facility._meta.get_field("district")


def _quoted(name: str) -> str:
    return f'"{name}"'


def _statement() -> str:
    """The find's text: table and column names from the models, every value a parameter."""
    columns = ", ".join(
        f"{alias}.{_quoted(f.column)}"
        for alias, model in zip(("b", "f", "d"), _LOADED, strict=True)
        for f in model._meta.concrete_fields
    )
    explanation = first_explanation(
        purpose="CAST(%(purpose)s AS text)",
        beneficiary="b.id",
        worker="CAST(%(worker)s AS bigint)",
        facility="CAST(%(facility)s AS bigint)",
        at="CAST(%(at)s AS timestamptz)",
    )
    dose = Dose._meta
    doses = f"""(SELECT CAST(json_agg(json_build_array(x.vaccine, x.dose_number, x.given_on, xf.name)
                                       ORDER BY x.given_on, x.dose_number, x.id) AS text)
                  FROM {_quoted(dose.db_table)} x JOIN {_quoted(Facility._meta.db_table)} xf ON xf.id = x.facility_id
                 WHERE x.beneficiary_id = b.id)"""
    return f"""SELECT {columns}, (SELECT first.kind FROM ({explanation}) first), {doses}
      FROM {_quoted(Beneficiary._meta.db_table)} b
      JOIN {_quoted(Facility._meta.db_table)} f ON f.id = b.facility_id
      JOIN {_quoted(District._meta.db_table)} d ON d.id = f.district_id
     WHERE b.reference_id = CAST(%(reference_id)s AS text)"""


_FIND = _statement()


def record_explained(reference_id: str, *, worker: User, purpose: str, at: datetime | None = None):
    """The record `reference_id` (facility and district loaded), or None, with `explained_by`: the kind that
    explains `worker`'s look-up of it with `purpose` at `at` (now), or None; and `doses_read`: its doses as
    (vaccine, dose number, date, facility name), oldest first. One query."""
    connection = transaction.get_connection()
    parameters = explanation_parameters(
        purpose=purpose,
        worker=worker.pk,
        facility=worker.facility_id,
        at=at or timezone.now(),
        reference_id=reference_id,
    )
    with prepared_cursor(connection) as cursor:
        cursor.execute(_FIND, parameters)
        row = cursor.fetchone()
    if row is None:
        return None
    alias, (b, f, d) = connection.alias, _WIDTHS
    record = Beneficiary.from_db(alias, _NAMES[0], row[:b])
    facility = Facility.from_db(alias, _NAMES[1], row[b : b + f])
    _FACILITY_DISTRICT.set_cached_value(facility, District.from_db(alias, _NAMES[2], row[b + f : b + f + d]))
    _BENEFICIARY_FACILITY.set_cached_value(record, facility)
    record.explained_by, doses = row[-2], row[-1]
    record.doses_read = [
        (vaccine, number, date.fromisoformat(given_on), place)
        for vaccine, number, given_on, place in (json.loads(doses) if doses else ())
    ]
    return record
