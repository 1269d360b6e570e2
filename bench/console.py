"""P6: each page of the supervisor console for a district of 100,000 workers against one of 1,000.

The pages: the dashboard (`/admin/`), and the first and a deep page of the user list, the access log
and the alert list. A deep page is page 50, or the list's last full page when it has fewer (the user
list and the access log count at most 1,001 rows, so their last full page is 10 in both districts;
a small district's alerts fit on one page, so its deep page is its first).

The data is one state of PostgreSQL rows made by set-based SQL (bench/_rows.py): the small district
(1,000 workers), the large one (100,000; 10,000 at `--size small`) and eight other districts with
four times the large one's workers between them, so that each measured district's rows are a share of
every table as in production, where a district is one of many, not most of the table: the large
district is a fifth of the state's accounts and look-ups, the small one a five-hundredth. The
accounts of every district are interleaved (by a permutation of their numbers), as accounts joining
over time would be, and the look-ups are written in time order, so every district's events are
spread through the access log as production's are. Ten facilities and one supervisor per district.

Each district in the same proportions: 1% of accounts waiting for approval, 2% suspended (dormant,
anomaly), one approved device per account and 1% more waiting, 0.5% held until unlocked, 1% with an
open alert and 4% with an alert decided over the last year, re-verifications spread over 200 days,
and 20 look-ups per worker over the last 30 days (a third searches, the rest record views), each on
the worker's device, counted into the console's tallies as the anomalies job does; then the database
is vacuumed and analysed, as autovacuum keeps a production one. The rows skip the hash chain (the
pages never read it) and name no beneficiary.

Each measured district's supervisor signs in through the real login pages (password, TOTP, approved
device) and requests every page through the whole middleware stack, the two districts interleaved,
round after round. Each page's ratio is the large district's median time over the small one's;
the goal, ≤ 2×, applies to each page, so the figure's value and baseline are the worst page's, and
every page's ratio is in `extra`. Each page must run the same number of queries in both districts:
the figure fails otherwise.
"""

from __future__ import annotations

import statistics
import time

from bench import Result, django_setup, figure, repetitions
from bench._rows import insert_series

SIZES = {"small": (1_000, 10_000, 40_000), "full": (1_000, 100_000, 400_000)}  # small, large, the others
OTHER_DISTRICTS = 8
FACILITIES = 10  # per district
VIEWS_PER_WORKER = 20  # over the last VIEW_DAYS days
VIEW_DAYS = 30
DEEP_PAGE = 50
SMALL, LARGE = "901", "902"  # the measured districts' codes
PREFIX = "bench.p6.w."  # the generated workers' usernames: PREFIX + their number
ROSTER = "bench_p6_roster"  # a temporary table: each generated worker's id, number, place in the permutation
PRIMES = (7919, 104_729, 1_299_709)  # the permutation's multiplier: the first that does not divide the total
NAMES = ("Sunita", "Ravi", "Anita", "Mohan", "Kiran", "Pooja", "Suresh", "Meena")
SURNAMES = ("Devi", "Kumar", "Yadav", "Singh", "Verma", "Gupta", "Mishra", "Khan")

# The pages: a name, the list's URL and the model it lists (None: the dashboard, one page).
LISTS = (
    ("dashboard", "/admin/", None),
    ("users", "/admin/accounts/user/", ("accounts", "User")),
    ("log", "/admin/records/accessevent/", ("records", "AccessEvent")),
    ("alerts", "/admin/accounts/alert/", ("accounts", "Alert")),
)


def _state(districts: list[tuple[str, int]]):
    """The state, its districts (code, workers) with FACILITIES facilities and a supervisor each.

    Returns the facility ids in district order and the supervisors by district code.
    """
    from django.contrib.auth.models import Group

    from accounts.models import District, Facility, Role, State, Status, User

    state, _ = State.objects.get_or_create(code="09", defaults={"name": "Uttar Pradesh"})
    group = Group.objects.filter(name=Role.SUPERVISOR)
    facilities, supervisors = [], {}
    for code, _workers in districts:
        district = District.objects.create(state=state, code=code, name=f"Bench district {code}")
        facilities += [
            Facility.objects.create(district=district, code=f"{code}{n:07d}", name=f"PHC {code}-{n}").pk
            for n in range(FACILITIES)
        ]
        supervisor = User.objects.create_user(
            username=f"bench.p6.supervisor.{code}",
            password=None,
            role=Role.SUPERVISOR,
            status=Status.ACTIVE,
            district=district,
            state=state,
            is_staff=True,
        )
        supervisor.groups.set(group)
        supervisors[code] = supervisor
    return facilities, supervisors


def _workers(districts: list[tuple[str, int]], facilities: list[int]) -> dict:
    """Every district's workers in one series: worker s is at place p = s × prime mod total, and the places
    [0, n₁) are the first district's, [n₁, n₁ + n₂) the second's, … so the districts interleave. Returns the
    parameters the other rows' statements use."""
    from accounts.models import Role, Status, User

    total = sum(workers for _code, workers in districts)
    prime = next(p for p in PRIMES if total % p)
    bounds = [sum(workers for _code, workers in districts[:n]) for n in range(len(districts))]
    place = "((s::bigint * %(prime)s) %% %(total)s)"
    params = {"prime": prime, "total": total, "bounds": bounds, "facilities": facilities, "prefix": PREFIX}
    insert_series(
        User,
        total,
        {
            "username": "%(prefix)s || s",
            "password": "'!bench'",
            "first_name": f"(ARRAY{list(NAMES)})[1 + s %% {len(NAMES)}]",
            "last_name": f"(ARRAY{list(SURNAMES)})[1 + (s / {len(NAMES)}) %% {len(SURNAMES)}]",
            "role": f"'{Role.WORKER}'",
            "facility_id": f"(%(facilities)s::bigint[])[(width_bucket({place}, %(bounds)s::bigint[]) - 1) "
            f"* {FACILITIES} + 1 + {place} %% {FACILITIES}]",
            "status": f"""CASE {place} %% 100 WHEN 0 THEN '{Status.PENDING_APPROVAL}'
                          WHEN 1 THEN '{Status.SUSPENDED}' WHEN 2 THEN '{Status.SUSPENDED}'
                          ELSE '{Status.ACTIVE}' END""",
            "suspension_cause": f"CASE {place} %% 100 WHEN 1 THEN 'dormant' WHEN 2 THEN 'anomaly' ELSE '' END",
            "last_login": "%(now)s::timestamptz - make_interval(days => (s %% 30)::int)",
            "review_due_at": "%(now)s::timestamptz + make_interval(days => (s %% 200)::int)",
            "date_joined": "%(now)s::timestamptz - interval '400 days'",
            "status_changed_at": "%(now)s::timestamptz - interval '400 days'",
        },
        params,
        label="workers",
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {ROSTER} AS
                SELECT u.id AS uid, n AS s, (n * %(prime)s) %% %(total)s AS p, f.district_id
                FROM {User._meta.db_table} u
                CROSS JOIN LATERAL (SELECT substr(u.username, {len(PREFIX) + 1})::bigint AS n) AS number
                JOIN accounts_facility f ON f.id = u.facility_id
                WHERE u.username LIKE %(like)s""",
            {"prime": prime, "total": total, "like": PREFIX + "%"},
        )
        cursor.execute(f"CREATE UNIQUE INDEX ON {ROSTER} (s)")
        cursor.execute(f"ANALYZE {ROSTER}")
    return params


def _subset(where: str) -> tuple[str, int]:
    """The roster's workers matching `where` (over `p`), numbered from 1 as `s`, with their district's
    supervisor as `sup`; and how many there are."""
    from django.db import connection

    from accounts.models import Role

    source = (
        f"SELECT r.uid, r.p, sup.id AS sup, row_number() OVER (ORDER BY r.s) AS s FROM {ROSTER} r "
        f"JOIN accounts_user sup ON sup.role = '{Role.SUPERVISOR}' AND sup.district_id = r.district_id "
        f"WHERE {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ROSTER} r WHERE {where.replace('%%', '%')}")
        return source, cursor.fetchone()[0]


def _around_workers(params: dict) -> None:
    """Each worker's devices, the holds, the alerts, then the look-ups of every worker in time order."""
    total = params["total"]
    from accounts.models import Alert, LoginHold, RegisteredDevice
    from governance.rules.registry import RULES
    from records.models import AccessEvent

    insert_series(
        RegisteredDevice,
        total,
        {
            "user_id": "u.uid",
            "token_hash": "md5(u.uid::text) || md5('p6' || u.uid)",
            "code": "upper(substr(md5('code' || u.uid), 1, 8))",
            "label": "'bench phone'",
            "status": "'approved'",
        },
        {},
        source=f"SELECT uid, s FROM {ROSTER}",
        label="devices",
    )
    source, count = _subset("r.p %% 100 = 3")
    insert_series(
        RegisteredDevice,
        count,
        {
            "user_id": "u.uid",
            "token_hash": "md5('new' || u.uid) || md5('p6new' || u.uid)",
            "code": "upper(substr(md5('new' || u.uid), 1, 8))",
            "label": "'new phone'",
            "status": "'pending'",
        },
        {},
        source=source,
        label="devices waiting",
    )
    source, count = _subset("r.p %% 200 = 5")
    insert_series(LoginHold, count, {"user_id": "u.uid", "lockouts": "3"}, {}, source=source, label="login holds")
    rules = {"rules": [rule.name for rule in RULES]}
    alert = {
        "subject_id": "u.uid",
        "rule": f"(%(rules)s::text[])[1 + u.s %% {len(RULES)}]",
        "severity": "(1 + u.s %% 4) * 10",
        "evidence": """'{"views": 70}'::jsonb""",
    }
    source, count = _subset("r.p %% 100 = 7")
    insert_series(
        Alert,
        count,
        {**alert, "created_at": "%(now)s::timestamptz - make_interval(hours => (u.p %% 720)::int)"},
        rules,
        source=source,
        label="open alerts",
    )
    source, count = _subset("r.p %% 25 = 3")
    raised = "(%(now)s::timestamptz - make_interval(days => 30 + (u.p %% 335)::int))"
    insert_series(
        Alert,
        count,
        {
            **alert,
            "status": f"CASE WHEN u.s %% 3 = 0 THEN '{Alert.State.CONFIRMED}' ELSE '{Alert.State.DISMISSED}' END",
            "decided_by_id": "u.sup",
            "decided_at": f"{raised} + interval '2 days'",
            "decision_reason": "'Checked with the worker and the facility in charge.'",
            "created_at": raised,
        },
        rules,
        source=source,
        label="decided alerts",
    )
    events = total * VIEWS_PER_WORKER
    insert_series(
        AccessEvent,
        events,
        {
            "created_at": "%(now)s::timestamptz - make_interval(secs => %(span)s * (1 - u.s::float8 / %(events)s))",
            "actor_id": "u.uid",
            "actor_seq": "u.k",
            "action": f"CASE WHEN u.s %% 3 = 0 THEN '{AccessEvent.Action.SEARCH}' ELSE '{AccessEvent.Action.VIEW}' END",
            "outcome": f"'{AccessEvent.Outcome.ALLOWED}'",
            "purpose": "'due_dose'",
            "detail": "'{}'::jsonb",
            "ip_address": "'10.20.0.0'::inet + (u.uid %% 60000)",
            "device_id": "u.device",
            "prev_hash": "''",
            "hash": "''",
        },
        {"span": VIEW_DAYS * 86400, "events": events, "total": total, "prime": params["prime"]},
        # Event s is the ⌈s / total⌉-th of the worker numbered 1 + s × prime mod total: each worker's events
        # spread over the days, every worker's interleaved with everyone else's, in time order.
        source=f"""SELECT g AS s, r.uid, d.id AS device, (g - 1) / %(total)s + 1 AS k
                   FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
                   JOIN {ROSTER} r ON r.s = 1 + (g * %(prime)s) %% %(total)s
                   JOIN {RegisteredDevice._meta.db_table} d ON d.user_id = r.uid AND d.status = 'approved'
                   ORDER BY g""",
        label="look-ups",
    )


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
        cursor.execute(f"DROP TABLE IF EXISTS {ROSTER}")
        cursor.execute("VACUUM ANALYZE")


def _deep_page(url: str, model_key: tuple[str, str], supervisor) -> int:
    """Page DEEP_PAGE of the list at `url` as `supervisor` sees it, or its last full page when it has fewer."""
    from django.apps import apps
    from django.contrib import admin
    from django.test import RequestFactory

    model_admin = admin.site._registry[apps.get_model(*model_key)]
    request = RequestFactory().get(url)
    request.user = supervisor
    changelist = model_admin.get_changelist_instance(request)
    full_pages = changelist.paginator.count // changelist.list_per_page
    return max(1, min(DEEP_PAGE, full_pages))


def _pages(supervisor) -> dict[str, str]:
    """The pages measured for `supervisor`: name → URL."""
    pages = {}
    for name, url, model_key in LISTS:
        if model_key is None:
            pages[name] = url
            continue
        pages[f"{name}_first"] = url
        pages[f"{name}_deep"] = f"{url}?p={_deep_page(url, model_key, supervisor)}"
    return pages


def same_queries(queries: dict[tuple[str, str], set[int]]) -> None:
    """Raise unless each page ran one number of queries, round after round, and the same in both districts.

    `queries` maps (district, page) to the numbers of queries seen, district "small" or "large".
    """
    pages = {name for _side, name in queries}
    unequal = [name for name in pages if queries.get(("small", name)) != queries.get(("large", name))]
    varying = [key for key, counts in queries.items() if len(counts) != 1]
    if unequal or varying:
        raise RuntimeError(
            "P6: each page must run the same queries in both districts, round after round: "
            + "; ".join(f"{side} {name}: {sorted(counts)}" for (side, name), counts in sorted(queries.items()))
        )


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


@figure("P6", "console pages, district of 100,000 vs 1,000 (worst page)", goal=2.0)
def console_at_scale(size: str) -> Result:
    reps = repetitions(size, small=9, full=7)
    django_setup()

    from bench.records import _signed_in_client, _Statements

    small_count, large_count, others = SIZES[size]
    districts = [(SMALL, small_count), (LARGE, large_count)] + [
        (f"8{n:02d}", others // OTHER_DISTRICTS) for n in range(OTHER_DISTRICTS)
    ]
    facilities, supervisors = _state(districts)
    params = _workers(districts, facilities)
    _around_workers(params)
    _count_views()
    clients = {
        "small": _signed_in_client(supervisors[SMALL], device_code="BENCHP6S"),
        "large": _signed_in_client(supervisors[LARGE], device_code="BENCHP6L"),
    }
    pages = {"small": _pages(supervisors[SMALL]), "large": _pages(supervisors[LARGE])}
    statements = _Statements()
    times = {(side, name): [] for side in clients for name in pages[side]}
    queries = {}
    for side, client in clients.items():  # warm-up: templates, caches, the planner
        for url in pages[side].values():
            _page(client, url, statements)
    for n in range(reps):  # interleaved, the order alternating, so both districts see the same machine
        for side in ("small", "large") if n % 2 == 0 else ("large", "small"):
            for name, url in pages[side].items():
                elapsed, count = _page(clients[side], url, statements)
                times[side, name].append(elapsed)
                queries.setdefault((side, name), set()).add(count)
    same_queries(queries)
    median = {key: statistics.median(values) for key, values in times.items()}
    ratios = {name: median["large", name] / median["small", name] for name in pages["small"]}
    worst = max(ratios, key=ratios.get)
    per_page = "; ".join(
        f"{name} {pages['large'][name].partition('?')[2] or 'p=1'}/{pages['small'][name].partition('?')[2] or 'p=1'}"
        f" {median['large', name] * 1000:.1f} vs {median['small', name] * 1000:.1f} ms"
        f" ({ratios[name]:.2f}x, {min(queries['large', name])} queries)"
        for name in pages["small"]
    )
    return Result(
        value=median["large", worst],
        baseline=median["small", worst],
        unit="s",
        size=size,
        queries=min(queries["large", worst]),
        repetitions=reps,
        notes=f"{large_count:,} vs {small_count:,} workers among {others:,} of {OTHER_DISTRICTS} other districts; "
        f"worst page {worst}; {per_page}; queries equal in both districts",
        extra={**{name: round(ratio, 3) for name, ratio in ratios.items()}, "worst": worst},
    )
