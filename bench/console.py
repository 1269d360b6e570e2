"""P6: the console's dashboard and user list for a district of 100,000 workers against one of 1,000.

Two districts of one state share the database: a small one with 1,000 workers and a large one with
100,000 (10,000 at `--size small`), ten facilities each, made by set-based SQL (bench/_rows.py).
Each district looks alike in proportion: 1% of accounts waiting for approval, 2% suspended (dormant,
anomaly), 1% with a device waiting, 0.5% held until unlocked, 1% with an open alert, re-verifications
spread over 200 days, and ten record views per worker over the last 30 days (1,000,000 events in
the large district), counted into the console's tallies as the anomalies job does; then the
database is vacuumed and analysed, as autovacuum keeps a production one. Each district's supervisor
signed in through the real login pages (password, TOTP, approved device) and requests `/admin/`
(the dashboard) and `/admin/accounts/user/` (the user list, first page) through the whole
middleware stack, the two districts interleaved.

The value is the large district's time for both pages; the baseline the small district's. Goal:
≤ 2×, and the same number of queries in both districts.
"""

from __future__ import annotations

import statistics
import time

from bench import Result, django_setup, figure, repetitions
from bench._rows import insert_series

SIZES = {"small": (1_000, 10_000), "full": (1_000, 100_000)}
FACILITIES = 10
VIEWS_PER_WORKER = 10
PAGES = ("/admin/", "/admin/accounts/user/")


def _district(code: str, workers: int):
    """A district of FACILITIES facilities and `workers` workers (with their devices, holds, alerts and
    views), and its supervisor; returns the supervisor."""
    from accounts.models import Alert, District, Facility, LoginHold, RegisteredDevice, Role, State, Status, User
    from records.models import AccessEvent

    state, _ = State.objects.get_or_create(code="09", defaults={"name": "Uttar Pradesh"})
    district = District.objects.create(state=state, code=code, name=f"Bench district {code}")
    facilities = [
        Facility.objects.create(district=district, code=f"{code}{n:07d}", name=f"PHC {code}-{n}").pk
        for n in range(FACILITIES)
    ]
    prefix = f"bench.p6.{code}."
    insert_series(
        User,
        workers,
        {
            "username": "%(prefix)s || s",
            "password": "'!bench'",
            "role": f"'{Role.WORKER}'",
            "facility_id": f"(%(facilities)s::bigint[])[1 + s %% {FACILITIES}]",
            "status": f"""CASE s %% 100 WHEN 0 THEN '{Status.PENDING_APPROVAL}'
                          WHEN 1 THEN '{Status.SUSPENDED}' WHEN 2 THEN '{Status.SUSPENDED}'
                          ELSE '{Status.ACTIVE}' END""",
            "suspension_cause": "CASE s %% 100 WHEN 1 THEN 'dormant' WHEN 2 THEN 'anomaly' ELSE '' END",
            "last_login": "%(now)s::timestamptz - make_interval(days => (s %% 30)::int)",
            "review_due_at": "%(now)s::timestamptz + make_interval(days => (s %% 200)::int)",
            "date_joined": "%(now)s::timestamptz - interval '400 days'",
            "status_changed_at": "%(now)s::timestamptz - interval '400 days'",
        },
        {"prefix": prefix, "facilities": facilities},
        label=f"workers of district {code}",
    )
    accounts = "SELECT id AS uid, row_number() OVER (ORDER BY id) AS s FROM accounts_user WHERE username LIKE %(like)s"
    like = {"like": prefix + "%"}
    insert_series(
        RegisteredDevice,
        workers,
        {
            "user_id": "u.uid",
            "token_hash": "md5(u.uid::text) || md5('p6' || u.uid)",
            "code": "upper(substr(md5('code' || u.uid), 1, 8))",
            "label": "'bench phone'",
            "status": "CASE WHEN u.s %% 100 = 3 THEN 'pending' ELSE 'approved' END",
        },
        like,
        source=accounts,
        label="devices",
    )
    insert_series(
        LoginHold,
        workers // 200,
        {"user_id": "u.uid", "lockouts": "3"},
        like,
        source=f"SELECT uid, row_number() OVER (ORDER BY uid) AS s FROM ({accounts}) a WHERE a.s %% 200 = 5",
        label="login holds",
    )
    insert_series(
        Alert,
        workers // 100,
        {
            "subject_id": "u.uid",
            "rule": "'volume_10min'",
            "severity": "(1 + u.s %% 4) * 10",
            "evidence": """'{"views": 70}'::jsonb""",
        },
        like,
        source=f"SELECT uid, row_number() OVER (ORDER BY uid) AS s FROM ({accounts}) a WHERE a.s %% 100 = 7",
        label="alerts",
    )
    insert_series(
        AccessEvent,
        workers * VIEWS_PER_WORKER,
        {
            "created_at": "%(now)s::timestamptz - make_interval(secs => ((u.s * 7919) %% 2592000)::float8)",
            "actor_id": "u.uid",
            "actor_seq": "u.k",
            "action": f"'{AccessEvent.Action.VIEW}'",
            "outcome": f"'{AccessEvent.Outcome.ALLOWED}'",
            "purpose": "'due_dose'",
            "detail": "'{}'::jsonb",
            "prev_hash": "''",
            "hash": "''",
        },
        like,
        source=(
            f"SELECT a.uid, g AS k, (a.s - 1) * {VIEWS_PER_WORKER} + g AS s FROM ({accounts}) a "
            f"CROSS JOIN generate_series(1, {VIEWS_PER_WORKER}) AS g"
        ),
        label="record views",
    )
    supervisor = User.objects.create_user(
        username=f"bench.p6.supervisor.{code}",
        password=None,
        role=Role.SUPERVISOR,
        status=Status.ACTIVE,
        district=district,
        state=state,
        is_staff=True,
    )
    from django.contrib.auth.models import Group

    supervisor.groups.set(Group.objects.filter(name=Role.SUPERVISOR))
    return supervisor


def _count_views() -> None:
    """What the anomalies job does with each window of new events: add the views to the console's tallies, here
    with the job's own statement parts (governance/tallies.py `view_tallies_ctes`) over every event at once."""
    from django.db import connection, transaction
    from django.db.models import Max
    from django.utils import timezone

    from governance.tallies import view_tallies_ctes
    from records.models import AccessEvent, AnomalyWatermark

    hi = AccessEvent.objects.aggregate(hi=Max("id"))["hi"]
    offset = int(timezone.localtime().utcoffset().total_seconds())  # local days, as the job's rules take them
    days = f"""days AS (
        SELECT actor_id, CAST(FLOOR((date_part('epoch', created_at) + {offset}) / 86400.0) AS BIGINT) AS d,
               COUNT(*) AS tally
        FROM {AccessEvent._meta.db_table}
        WHERE id <= %s AND action = '{AccessEvent.Action.VIEW}' AND outcome = '{AccessEvent.Outcome.ALLOWED}'
        GROUP BY 1, 2
    )"""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {days}, {', '.join(view_tallies_ctes('days'))} SELECT 1", [hi])
        AnomalyWatermark.objects.update_or_create(
            stream=AnomalyWatermark.Stream.ACCESS_EVENTS, defaults={"last_id": hi}
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _page(client, url: str, statements) -> tuple[float, int]:
    from django.db import connection

    statements.sql.clear()
    with connection.execute_wrapper(statements):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"P6: {url} answered {response.status_code}")
    return elapsed, len(statements)


@figure("P6", "console dashboard + user list at 100,000 workers vs 1,000 (PostgreSQL)", goal=2.0)
def console_at_scale(size: str) -> Result:
    reps = repetitions(size, small=15, full=9)
    django_setup()

    from bench.records import _signed_in_client, _Statements

    small_count, large_count = SIZES[size]
    small = _signed_in_client(_district("901", small_count), device_code="BENCHP6S")
    large = _signed_in_client(_district("902", large_count), device_code="BENCHP6L")
    _count_views()
    statements = _Statements()
    times = {(d, url): [] for d in ("small", "large") for url in PAGES}
    queries = {}
    for client in (small, large):  # warm-up: templates, caches, the planner
        for url in PAGES:
            _page(client, url, statements)
    for _ in range(reps):
        for district, client in (("small", small), ("large", large)):
            for url in PAGES:
                elapsed, count = _page(client, url, statements)
                times[district, url].append(elapsed)
                queries[district, url] = count
    median = {key: statistics.median(values) for key, values in times.items()}
    value = sum(median["large", url] for url in PAGES)
    baseline = sum(median["small", url] for url in PAGES)
    per_page = "; ".join(
        f"{url}: {median['large', url] * 1000:.1f} vs {median['small', url] * 1000:.1f} ms, "
        f"{queries['large', url]} vs {queries['small', url]} queries"
        for url in PAGES
    )
    equal = all(queries["large", url] == queries["small", url] for url in PAGES)
    return Result(
        value=value,
        baseline=baseline,
        unit="s",
        size=size,
        queries=sum(queries["large", url] for url in PAGES),
        repetitions=reps,
        notes=f"{large_count:,} vs {small_count:,} workers; {per_page}; queries equal: {'yes' if equal else 'NO'}",
    )
