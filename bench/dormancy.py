"""P4: the dormancy sweep (`governance dormancy`) against one raw SQL UPDATE of the same accounts.

Accounts are made by one set-based INSERT … SELECT generate_series per chunk (PostgreSQL, a progress
line per chunk): small is 20,000 accounts, full 1,000,000, each with a last login spread over the last
60 days, so about a quarter of them are past 45 days (suspended) and a quarter between 30 and 45
(warned). Every column the model declares gets its Python default, so the rows are what the ORM
would write.

The value is one whole run of the job as a dry run (everything rolled back, so each repetition finds
the same accounts): selection, locks, the suspensions with history, events, sessions, messages and
digests. The baseline is one UPDATE … RETURNING of the same accounts' status in a transaction rolled
back. Goal: ≤ 2×. `queries` is the job's statement count, the same at every size on PostgreSQL (the
suspension is one statement of chained CTEs, the warnings another: accounts/services/lifecycle.py).
The accounts have no mobile or e-mail, so no outbox row is written (the job skips them in SQL).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from bench import Result, django_setup, figure, repetitions
from bench._rows import insert_series

SIZES = {"small": 20_000, "full": 1_000_000}
SPREAD_DAYS = 60


def _accounts(count: int, facility_id: int) -> None:
    """`count` active workers of one facility, last logins spread over SPREAD_DAYS, in set-based inserts."""
    from accounts.models import Role, Status, User

    insert_series(
        User,
        count,
        {
            "username": "'bench.p4.' || s",
            "password": "'!bench'",
            "role": f"'{Role.WORKER}'",
            "status": f"'{Status.ACTIVE}'",
            "facility_id": "%(facility)s",
            "preferred_language": "'hi'",
            "last_login": "%(now)s::timestamptz - make_interval(secs => s::float8 * %(spread)s * 86400 / %(count)s)",
            "date_joined": "%(now)s::timestamptz - interval '400 days'",
            "status_changed_at": "%(now)s::timestamptz - interval '400 days'",
        },
        {"facility": facility_id, "spread": SPREAD_DAYS, "count": count},
        label="accounts",
    )


BASELINE = """
    UPDATE accounts_user SET status = 'suspended', suspension_cause = 'dormant',
           status_reason = 'dormancy', status_changed_at = %(now)s
    WHERE status = 'active' AND NOT is_system AND NOT is_superuser
      AND COALESCE(last_login, status_changed_at, date_joined) <= %(cutoff)s
    RETURNING id
"""


@figure("P4", "dormancy sweep vs one raw SQL UPDATE of the same accounts", goal=2.0)
def dormancy_sweep(size: str) -> Result:
    reps = repetitions(size, small=3, full=1)
    django_setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.records import _place_and_worker
    from governance.jobs import job_run

    count = SIZES[size]
    facility, _supervisor = _place_and_worker("bench.p4.supervisor")
    _accounts(count, facility.pk)
    sweeps, updates, summary, queries, suspended = [], [], {}, 0, 0
    for _ in range(reps):
        now = timezone.now()
        cutoff = now - timedelta(days=settings.PRAHARI_DORMANCY_SUSPEND_DAYS)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(BASELINE, {"now": now, "cutoff": cutoff})
            suspended = len(cursor.fetchall())
            transaction.set_rollback(True)
        updates.append(time.perf_counter() - started)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            summary = job_run("dormancy", dry_run=True, now=now)
        sweeps.append(time.perf_counter() - started)
        queries = len(captured)
    if summary.get("suspended") != suspended:
        raise RuntimeError(
            f"the job suspended {summary.get('suspended')}, the UPDATE {suspended}: not the same accounts"
        )
    return Result(
        value=statistics.median(sweeps),
        baseline=statistics.median(updates),
        unit="s",
        size=size,
        queries=queries,
        repetitions=reps,
        notes=f"{count:,} accounts; suspended {summary['suspended']:,}, warned {summary['warned']:,} "
        f"(the UPDATE: {suspended:,} rows, no history, events, sessions or messages)",
    )
