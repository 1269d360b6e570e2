"""P4: the dormancy job (`governance dormancy`) against the same changes written in plain SQL.

The accounts are made as the demo makes them (bench/_dormancy.py): workers with mobile numbers, an
e-mail address for every fourth, a live session for every second account, and real governors (each
district's supervisors and the state's administrators, made in their roles by `user_create`, some of
them dormant too). Small is 20,000 workers, full 1,000,000, their last logins spread over the last 60
days: about a quarter are past 45 days (suspended) and a quarter between 30 and 45 (warned). Sessions
last 12 hours, so production seldom has one on a dormant account: here the deletion has work to do.

The value is one run of the job through `job_run` (its advisory lock, the system actor, the ORM's
querysets compiled into set-based statements, the governors loaded and their digests written, the
messages queued for after the commit), not a dry run: it runs inside a transaction of the bench, which
counts what the run wrote and rolls back (untimed), so each repetition finds the same accounts and
nothing is sent. The baseline writes the same rows in the same kind of transaction with two statements
of plain SQL written in bench/_dormancy.py: an INSERT … SELECT of the warnings, then one statement that
suspends the accounts and writes their history rows, deletes their sessions, records their events,
writes their owners' messages and each governor's digest. What it leaves out is what the figure
measures: the lock, the ORM and the Python between statements, and the queueing (nothing is queued
in either, the transaction rolling back). Both must leave the same accounts suspended, history rows,
events, outbox rows (content and keys; ids and times aside) and sessions deleted, or the figure fails;
both see the whole database (other figures' accounts too). Rounds are interleaved, the order
alternating; medians are reported. Goal: ≤ 2×. `queries` is the job's statement count, savepoints
aside (BEGIN and COMMIT are not counted either), the same at every size.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from bench import Result, django_setup, figure, repetitions

SIZES = {"small": 20_000, "full": 1_000_000}
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def _rolled_back(work, now, marks: dict) -> tuple[float, dict, dict, object, int]:
    """Time `work()` in a transaction, read what it changed, roll back: (seconds, counts, fingerprints,
    what `work` returned, the statements it ran besides savepoints)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from bench._dormancy import changes

    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = work()
            elapsed = time.perf_counter() - started
        statements = sum(1 for q in captured.captured_queries if not q["sql"].startswith(SAVEPOINTS))
        counts, prints = changes(now, marks)
        transaction.set_rollback(True)
    return elapsed, counts, prints, result, statements


def _baseline(now, sql: dict, actor_id: int):
    """The plain-SQL run: the warnings, then the suspensions with everything they write."""
    from django.conf import settings
    from django.db import connection

    from accounts.models import AccountEventType

    params = {
        "now": now,
        "now_iso": now.isoformat(),
        "warn_at": now - timedelta(days=settings.PRAHARI_DORMANCY_WARN_DAYS),
        "suspend_at": now - timedelta(days=settings.PRAHARI_DORMANCY_SUSPEND_DAYS),
        "warn_context": f'{{"days": {settings.PRAHARI_DORMANCY_SUSPEND_DAYS}}}',
        "reason": f"governance job dormancy: no full login for {settings.PRAHARI_DORMANCY_SUSPEND_DAYS} days",
        "actor": actor_id,
        "event_type": int(AccountEventType.USER_SUSPENDED),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql["warnings"], params)
        cursor.execute(sql["suspension"], params)


@figure("P4", "dormancy job vs plain SQL, same changes", goal=2.0)
def dormancy_sweep(size: str) -> Result:
    reps = repetitions(size, small=3, full=1)
    django_setup()
    from django.utils import timezone

    from accounts.services.system import system_user
    from bench._dormancy import WARNINGS, high_marks, history_columns, suspension_sql, world_make
    from governance.jobs import job_run

    accounts = world_make(size, SIZES[size])
    sql = {"warnings": WARNINGS, "suspension": suspension_sql(*history_columns())}
    actor_id, marks = system_user().pk, high_marks()
    jobs, plains = [], []
    for rep in range(reps):
        now = timezone.now()
        runs = {}
        for side in ("job", "plain") if rep % 2 == 0 else ("plain", "job"):
            if side == "job":
                runs[side] = _rolled_back(lambda now=now: job_run("dormancy", now=now), now, marks)
            else:
                runs[side] = _rolled_back(lambda now=now: _baseline(now, sql, actor_id), now, marks)
        job_time, counts, job_prints, summary, queries = runs["job"]
        plain_time, plain_counts, plain_prints, _none, plain_statements = runs["plain"]
        if (counts, job_prints) != (plain_counts, plain_prints):
            differ = sorted(
                k
                for k in {*counts, *job_prints}
                if (counts.get(k), job_prints.get(k)) != (plain_counts.get(k), plain_prints.get(k))
            )
            raise RuntimeError(f"the job and the plain SQL changed different rows: {', '.join(differ)}")
        if (
            counts["suspended"] != summary["suspended"]
            or counts.get("outbox_dormancy_warning_accounts", 0) != summary["warned"]
        ):
            raise RuntimeError(f"the job's summary {summary} does not match the rows it wrote {counts}")
        jobs.append(job_time)
        plains.append(plain_time)
    outbox = sum(v for k, v in counts.items() if k.startswith("outbox_") and not k.endswith("_accounts"))
    extra = {
        "accounts": accounts,
        "warned": counts.get("outbox_dormancy_warning_accounts", 0),
        "suspended": counts["suspended"],
        "sessions_deleted": counts["sessions_deleted"],
        "history_rows": counts["history_rows"],
        "events": counts["events"],
        "outbox_rows": outbox,
        "outbox_warnings": counts.get("outbox_dormancy_warning", 0),
        "outbox_suspensions": counts.get("outbox_account_suspended", 0),
        "digests": counts.get("outbox_governance_digest", 0),
        "digest_governors": counts.get("outbox_governance_digest_accounts", 0),
        "baseline_statements": plain_statements,
    }
    return Result(
        value=statistics.median(jobs),
        baseline=statistics.median(plains),
        unit="s",
        size=size,
        queries=queries,
        repetitions=reps,
        notes=f"{accounts:,} accounts; warned {extra['warned']:,}, suspended {extra['suspended']:,}, sessions "
        f"deleted {extra['sessions_deleted']:,}, {extra['history_rows']:,} history rows, {extra['events']:,} "
        f"events, {outbox:,} outbox rows ({extra['outbox_warnings']:,} warnings, {extra['outbox_suspensions']:,} "
        f"suspensions, {extra['digests']:,} digests to {extra['digest_governors']} governors); the plain SQL "
        f"wrote the same in {plain_statements} statements. Job runs {', '.join(f'{t:.3f}' for t in jobs)} s, plain "
        f"{', '.join(f'{t:.3f}' for t in plains)} s",
        extra=extra,
    )
