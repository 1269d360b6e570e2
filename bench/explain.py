"""P8: the `explain` job against one SQL join computing the same explained set.

Small: 1,000 workers of one facility with 100 look-ups each (100,000 access events) of 10,000 beneficiaries,
10,000 appointments, 5,000 doses, and the beneficiary's consent behind half the look-ups "the beneficiary asked
in person" (5,000); full: 100,000 workers (10,000,000 events), 1,000,000 beneficiaries and appointments,
500,000 doses and 500,000 consents. The look-ups spread over the last seven days with the purposes in
realistic shares (due doses, certificates, session planning, "asked in person"), views and a tenth reveals.
Rows are made by set-based SQL (bench/_rows.py) and skip the hash chain: the job never reads it. The tables
are analysed afterwards, as autovacuum keeps a production server's statistics.

The value is one whole run of the job from an empty watermark, committed as production commits it (the
deferred foreign-key checks and the WAL flush included), the explanations then removed and the watermark
reset outside the timing, so each repetition explains the same events into an empty table: the wait for
older writers, the one INSERT … SELECT with its choice of the first explanation per look-up, the watermark.
The baseline is one SELECT over the same events counting those that a consent, an appointment or a dose
explains under the same rules (fitting purposes, facility, dates), with no choice of kind and nothing
written, under the job's session settings (no JIT). Goal: ≤ 2×.
"""

from __future__ import annotations

import statistics
import time

from bench import Result, django_setup, figure, repetitions
from bench._rows import insert_series, workers_make

# workers, look-ups per worker, beneficiaries (= appointments), doses, consents
SIZES = {"small": (1_000, 100, 10_000, 5_000, 5_000), "full": (100_000, 100, 1_000_000, 500_000, 500_000)}

BASELINE = """
    SELECT COUNT(*) FROM records_accessevent e JOIN accounts_user u ON u.id = e.actor_id
    WHERE e.id <= %(hi)s AND e.action IN ('view', 'reveal') AND e.outcome = 'allowed' AND e.beneficiary_id IS NOT NULL
      AND ((e.purpose IN ('beneficiary_request', 'certificate') AND EXISTS (
                SELECT 1 FROM records_consent c WHERE c.beneficiary_id = e.beneficiary_id AND c.worker_id = e.actor_id
                   AND c.given_at <= e.created_at AND c.valid_until > e.created_at))
        OR (e.purpose IN ('due_dose', 'session_planning') AND EXISTS (
                SELECT 1 FROM records_appointment a WHERE a.beneficiary_id = e.beneficiary_id
                   AND a.facility_id = u.facility_id AND a.status <> 'cancelled'
                   AND a.date BETWEEN (e.created_at AT TIME ZONE %(tz)s)::date - 7
                                  AND (e.created_at AT TIME ZONE %(tz)s)::date + 7))
        OR (e.purpose IN ('due_dose', 'certificate', 'adverse_event') AND EXISTS (
                SELECT 1 FROM records_dose d WHERE d.beneficiary_id = e.beneficiary_id
                   AND (d.facility_id = u.facility_id OR d.administered_by_id = e.actor_id)
                   AND d.given_on BETWEEN (e.created_at AT TIME ZONE %(tz)s)::date - 30
                                      AND (e.created_at AT TIME ZONE %(tz)s)::date)))
"""


def _data(size: str) -> int:
    """Make the rows; return the largest access event id."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from records.models import AccessEvent, Appointment, Beneficiary, Consent, Dose

    workers, per_worker, people, doses, consents = SIZES[size]
    with connection.cursor() as cursor:  # the look-ups of figures run before in this database are not P8's work
        cursor.execute("SET session_replication_role = replica")  # past the append-only trigger: a bench database
        cursor.execute(f"DELETE FROM {AccessEvent._meta.db_table}")
        cursor.execute("SET session_replication_role = origin")
    ids = workers_make(workers, prefix="bench.p8")
    facility_id = User.objects.get(pk=ids[0]).facility_id
    today = timezone.localdate()
    common = {"f": facility_id, "today": today, "ids": ids, "w": len(ids), "p": people}
    insert_series(
        Beneficiary,
        people,
        {
            "reference_id": "LPAD((80000000000000 + s)::text, 14, '0')",  # 8…: P3's records are 7…
            "name": "'Bench Person ' || s",
            "year_of_birth": "1950 + s %% 60",
            "gender": "'F'",
            "id_type": "'aadhaar'",
            "id_number": "LPAD(s::text, 12, '0')",
            "mobile": "'+9198' || LPAD(s::text, 8, '0')",
            "facility_id": "%(f)s",
        },
        common,
        label="beneficiaries",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM records_beneficiary WHERE reference_id BETWEEN '8' AND '9'")
        common["b0"] = cursor.fetchone()[0]
    person = "%(b0)s + (s::bigint * 7919) %% %(p)s"  # bigint: s * 7919 passes 2^31 at full size
    insert_series(
        Appointment,
        people,
        {
            "beneficiary_id": "%(b0)s + s - 1",
            "facility_id": "%(f)s",
            "date": "%(today)s::date - 10 + (s * 13) %% 21",
            "status": "CASE WHEN s %% 20 = 0 THEN 'cancelled' WHEN s %% 3 = 0 THEN 'attended' ELSE 'scheduled' END",
        },
        common,
        label="appointments",
    )
    insert_series(
        Dose,
        doses,
        {
            "beneficiary_id": "%(b0)s + (s * 3) %% %(p)s",
            "vaccine": "'Measles'",
            "dose_number": "1",
            "given_on": "%(today)s::date - (s * 7) %% 60",
            "facility_id": "%(f)s",
        },
        common,
        label="doses",
    )
    purpose = (
        "CASE WHEN s %% 10 < 6 THEN 'due_dose' WHEN s %% 10 < 8 THEN 'certificate' "
        "WHEN s %% 10 = 8 THEN 'beneficiary_request' ELSE 'session_planning' END"
    )
    insert_series(
        AccessEvent,
        workers * per_worker,
        {
            "created_at": "%(now)s - make_interval(secs => (s * 37) %% 604800)",
            "actor_id": "(%(ids)s::bigint[])[1 + (s - 1) %% %(w)s]",
            "actor_seq": "1 + (s - 1) / %(w)s",
            "action": "CASE WHEN s %% 10 = 3 THEN 'reveal' ELSE 'view' END",
            "outcome": "'allowed'",
            "beneficiary_id": person,
            "purpose": purpose,
            "ip_address": "'10.0.0.1'::inet",
            "device_id": "NULL",
            "prev_hash": "''",
            "hash": "''",
            "pace_mean": "NULL",
            "pace_sd": "NULL",
        },
        common,
        label="access events",
    )
    insert_series(  # consent behind the first half (by id) of the look-ups "the beneficiary asked in person"
        Consent,
        consents,
        {
            "beneficiary_id": "u.beneficiary_id",
            "worker_id": "u.actor_id",
            "mobile": "'+919800000000'",
            "code_hash": "''",
            "sent_at": "u.created_at - interval '3 minutes'",
            "code_expires_at": "u.created_at + interval '2 minutes'",
            "given_at": "u.created_at - interval '1 minute'",
            "valid_until": "u.created_at + interval '8 hours'",
        },
        common,
        label="consents",
        source="SELECT row_number() OVER (ORDER BY id) AS s, beneficiary_id, actor_id, created_at "
        "FROM records_accessevent WHERE purpose = 'beneficiary_request'",
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {AccessEvent._meta.db_table}")  # the earlier figures' look-ups, deleted above
        cursor.execute("ANALYZE")  # statistics, as autovacuum keeps them on a production server
        cursor.execute("SELECT MAX(id) FROM records_accessevent")
        return cursor.fetchone()[0]


@figure("P8", "explain job vs one SQL join, same set", goal=2.0)
def explain_job(size: str) -> Result:
    reps = repetitions(size, small=3, full=1)
    django_setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from governance.jobs import job_run
    from records.models import AccessEvent, AccessExplanation, AnomalyWatermark

    hi = _data(size)
    runs, joins, summary, queries, counted = [], [], {}, 0, 0
    for _ in range(reps):
        with connection.cursor() as cursor:  # back to the first run's state: no explanation, no watermark
            cursor.execute(f"TRUNCATE {AccessExplanation._meta.db_table}")
        AnomalyWatermark.objects.filter(stream=AnomalyWatermark.Stream.EXPLANATIONS).delete()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(BASELINE, {"hi": hi, "tz": settings.TIME_ZONE})
            counted = cursor.fetchone()[0]
        joins.append(time.perf_counter() - started)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            summary = job_run("explain")
        runs.append(time.perf_counter() - started)
        queries = len(captured)
    explained = sum(summary.get("explained", {}).values())
    if explained != counted:
        raise AssertionError(f"the job explained {explained:,} look-ups, the join counts {counted:,}")
    return Result(
        value=statistics.median(runs),
        baseline=statistics.median(joins),
        unit="s",
        size=size,
        queries=queries,
        repetitions=reps,
        notes=f"{AccessEvent.objects.count():,} events; explained {explained:,} ({summary.get('explained')}), "
        f"the same as the join; {queries} statements",
    )
