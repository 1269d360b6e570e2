"""Explained access: which allowed look-ups of a record the data already explains (issue 16, ARCHITECTURE.md).

A `view` or `reveal` by worker W of beneficiary B at time t is explained, in this order, by
1. B's consent to W standing at t (records/consent.py);
2. an appointment of B at W's facility, not cancelled, within PRAHARI_EXPLAIN_APPOINTMENT_DAYS of t's
   local date (before or after: a due list is read ahead of its session and after it);
3. a dose of B given at W's facility, or by W, within PRAHARI_EXPLAIN_DOSE_DAYS before t's local date;
and only where the look-up's purpose fits the explanation (`FITS`). A supervisor's review explains any
purpose (`explanation_accept`, governance). The rules are written once, as SQL over one look-up's
columns (`_FIRST_EXPLANATION`): the `explain` job applies them to the log, set-based, and the read path
to the look-up it is about to make.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from records.keys import Purpose
from records.models import AccessEvent, AccessExplanation, Appointment, Beneficiary, Consent, Dose

Kind = AccessExplanation.Kind
CONSENT = Kind.CONSENT

# Which explanation fits which purpose of a look-up (a supervisor's review fits every purpose).
FITS: dict[str, tuple[str, ...]] = {
    Kind.CONSENT: (Purpose.BENEFICIARY_REQUEST, Purpose.CERTIFICATE),
    Kind.APPOINTMENT: (Purpose.DUE_DOSE, Purpose.SESSION_PLANNING),
    Kind.DOSE: (Purpose.DUE_DOSE, Purpose.CERTIFICATE, Purpose.ADVERSE_EVENT),
}

# The first explanation of one look-up, as (kind, source_id), over its columns: {purpose}, {beneficiary},
# {worker}, {facility} (the worker's), {at} (its time). Parameters: %(tz)s, %(appointment_days)s, %(dose_days)s
# and one %(fits_<kind>)s list per kind. Each kind is a step that runs only when the purpose fits it and no
# earlier kind explained the look-up (a CASE, fenced by OFFSET 0 so its sub-select runs once per look-up), and
# takes the kind's lowest id: a look-up costs at most one index probe per kind, and none past its explanation.
_FIRST_EXPLANATION = f"""
    SELECT CASE WHEN consent.id IS NOT NULL THEN '{Kind.CONSENT}'
                WHEN appointment.id IS NOT NULL THEN '{Kind.APPOINTMENT}'
                ELSE '{Kind.DOSE}' END AS kind,
           COALESCE(consent.id, appointment.id, dose.id) AS source_id
      FROM (SELECT CASE WHEN {{purpose}} = ANY(%(fits_consent)s) THEN (
                SELECT MIN(c.id) FROM {Consent._meta.db_table} c
                 WHERE c.beneficiary_id = {{beneficiary}} AND c.worker_id = {{worker}}
                   AND c.given_at <= {{at}} AND c.valid_until > {{at}}) END AS id OFFSET 0) consent
     CROSS JOIN LATERAL (SELECT CASE WHEN consent.id IS NULL AND {{purpose}} = ANY(%(fits_appointment)s) THEN (
                SELECT MIN(a.id) FROM {Appointment._meta.db_table} a
                 WHERE a.beneficiary_id = {{beneficiary}} AND a.facility_id = {{facility}}
                   AND a.status <> '{Appointment.Status.CANCELLED}'
                   AND a.date BETWEEN ({{at}} AT TIME ZONE %(tz)s)::date - %(appointment_days)s::int
                                  AND ({{at}} AT TIME ZONE %(tz)s)::date + %(appointment_days)s::int) END AS id
            OFFSET 0) appointment
     CROSS JOIN LATERAL (SELECT CASE WHEN COALESCE(consent.id, appointment.id) IS NULL
                                      AND {{purpose}} = ANY(%(fits_dose)s) THEN (
                SELECT MIN(d.id) FROM {Dose._meta.db_table} d
                 WHERE d.beneficiary_id = {{beneficiary}}
                   AND (d.facility_id = {{facility}} OR d.administered_by_id = {{worker}})
                   AND d.given_on BETWEEN ({{at}} AT TIME ZONE %(tz)s)::date - %(dose_days)s::int
                                      AND ({{at}} AT TIME ZONE %(tz)s)::date) END AS id OFFSET 0) dose
     WHERE COALESCE(consent.id, appointment.id, dose.id) IS NOT NULL
"""

_EVENTS, _USERS, _EXPLANATIONS = AccessEvent._meta.db_table, User._meta.db_table, AccessExplanation._meta.db_table

# The job's statement: every allowed view or reveal with an id up to %(hi)s that is new (id above %(lo)s: none has
# an explanation yet, bar a race that ON CONFLICT settles) or recent enough for an explanation to have come later
# (at or after %(since)s) and not yet explained. Only those older look-ups ask whether they are explained: the
# question reads the table this statement writes, and on a first run (an empty table, planned as one) asking it
# of every look-up meant a scan of the growing table per look-up.
_EXPLAIN_EVENTS = f"""
    INSERT INTO {_EXPLANATIONS} (event_id, actor_id, event_at, kind, source_id, reviewed_by_id, reason, created_at)
    SELECT e.id, e.actor_id, e.created_at, x.kind, x.source_id, NULL, '', %(now)s
      FROM {_EVENTS} e
      JOIN {_USERS} u ON u.id = e.actor_id
     CROSS JOIN LATERAL ({
    _FIRST_EXPLANATION.format(
        purpose="e.purpose",
        beneficiary="e.beneficiary_id",
        worker="e.actor_id",
        facility="u.facility_id",
        at="e.created_at",
    )
}) x
     WHERE e.id <= %(hi)s
       AND (e.id > %(lo)s OR (e.created_at >= %(since)s
                              AND NOT EXISTS (SELECT 1 FROM {_EXPLANATIONS} done WHERE done.event_id = e.id)))
       AND e.action IN ('{AccessEvent.Action.VIEW}', '{AccessEvent.Action.REVEAL}')
       AND e.outcome = '{AccessEvent.Outcome.ALLOWED}' AND e.beneficiary_id IS NOT NULL
    ON CONFLICT (event_id) DO NOTHING
    RETURNING kind
"""

_EXPLAIN_ONE = _FIRST_EXPLANATION.format(
    purpose="%(purpose)s", beneficiary="%(beneficiary)s", worker="%(worker)s", facility="%(facility)s", at="%(at)s"
)


def first_explanation(*, purpose: str, beneficiary: str, worker: str, facility: str, at: str) -> str:
    """The rules' SQL over one look-up's columns or parameters (each argument is SQL text, never input): its
    row is (kind, source_id), none when nothing explains the look-up. Parameters: `explanation_parameters`."""
    return _FIRST_EXPLANATION.format(purpose=purpose, beneficiary=beneficiary, worker=worker, facility=facility, at=at)


def explanation_parameters(**extra) -> dict:
    return {
        "tz": settings.TIME_ZONE,
        "appointment_days": settings.PRAHARI_EXPLAIN_APPOINTMENT_DAYS,
        "dose_days": settings.PRAHARI_EXPLAIN_DOSE_DAYS,
        **{f"fits_{kind}": [str(p) for p in purposes] for kind, purposes in FITS.items()},
        **extra,
    }


def explanations_write(*, lo: int, hi: int, since: datetime, now: datetime) -> dict[str, int]:
    """Explain, in one statement, the allowed views and reveals with ids in (lo, hi] and those from `since`
    on (up to hi) that are still unexplained; {kind: how many explained now}."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # No JIT: compiling this statement's expressions costs far more than it saves (seconds on a first run
        # over 100,000 look-ups, measured by bench P8), as for the anomaly rules' statement.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_EXPLAIN_EVENTS, explanation_parameters(lo=lo, hi=hi, since=since, now=now))
        kinds = [row[0] for row in cursor.fetchall()]
    return {kind: kinds.count(kind) for kind in sorted(set(kinds))}


def explanation_for(
    *, worker: User, beneficiary: Beneficiary, purpose: str, at: datetime | None = None
) -> tuple[str, int] | None:
    """The (kind, source id) that would explain `worker`'s look-up of `beneficiary` with `purpose` at `at`
    (now), or None: the look-up would count as unexplained. One query."""
    parameters = explanation_parameters(
        purpose=purpose,
        beneficiary=beneficiary.pk,
        worker=worker.pk,
        facility=worker.facility_id,
        at=at or timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.execute(_EXPLAIN_ONE, parameters)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None
