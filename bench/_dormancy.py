"""P4's accounts, its plain-SQL baseline and the fingerprint both runs must leave (bench/dormancy.py).

The accounts are made as the demo makes them (accounts/services/demo.py): one state with districts and
facilities; in each district supervisors made by `user_create` as supervisors of that district (two
active, one dormant, one idle past the warning), two state administrators of the state (one dormant);
the workers, set-based, each with a mobile number, an e-mail address for every fourth, a preferred
language, their role's group and a last login spread over SPREAD_DAYS. Every second account has a
live session row. The governors' and workers' addresses are all distinct (mobiles are unique).
"""

from __future__ import annotations

from bench._rows import insert_series

SPREAD_DAYS = 60
PREFIX = "bench.p4."
# (districts, facilities per district) at each size; the workers are spread over the facilities.
PLACES = {"small": (10, 10), "full": (75, 40)}
# Governors per district: (name, days since the last login); the state's: the same.
SUPERVISORS = (("a", 1), ("b", 2), ("dormant", 50), ("idle", 35))
STATE_ADMINS = (("a", 1), ("dormant", 55))


def world_make(size: str, count: int) -> int:
    """Places, governors and `count` workers (see the module's docstring); return how many accounts."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import District, Facility, Role, State, Status, User
    from accounts.services.system import system_user
    from accounts.services.users import user_create

    districts, per_district = PLACES[size]
    state = State.objects.create(code="97", name="Bench state (P4)")
    system, now, made = system_user(), timezone.now(), 0

    def governor(username: str, days: int, serial: int, **place) -> None:
        nonlocal made
        role = Role.STATE_ADMIN if "state" in place else Role.SUPERVISOR
        user = user_create(
            username=f"{PREFIX}{username}",
            role=role,
            acting_user=system,
            reason="bench P4",
            status=Status.ACTIVE,
            first_name="Officer",
            last_name=str(serial),
            mobile=f"+918{serial:09d}",
            email=f"{PREFIX}{username}@demo.invalid",
            preferred_language="en",
            **place,
        )
        User.objects.filter(pk=user.pk).update(last_login=now - timedelta(days=days))
        made += 1

    for name, days in STATE_ADMINS:
        governor(f"sa.{name}", days, made + 1, state=state)
    facilities = []
    for d in range(districts):
        district = District.objects.create(state=state, code=str(700 + d), name=f"Bench district {700 + d}")
        for name, days in SUPERVISORS:
            governor(f"dio.{700 + d}.{name}", days, made + 1, district=district)
        facilities += Facility.objects.bulk_create(
            Facility(district=district, code=f"97{700 + d:03d}{n:05d}", name=f"PHC {700 + d}-{n}")
            for n in range(per_district)
        )
    _workers(count, [f.pk for f in facilities])
    _sessions()
    return made + count


def _workers(count: int, facility_ids: list[int]) -> None:
    """`count` active workers in set-based inserts, with their role's group, as the demo's would be."""
    from django.db import connection

    from accounts.models import Role, Status, User

    seen = "%(now)s::timestamptz - make_interval(secs => s::float8 * %(spread)s * 86400 / %(count)s)"
    insert_series(
        User,
        count,
        {
            "username": f"'{PREFIX}w.' || s",
            "password": "'!bench'",
            "first_name": "'Asha'",
            "last_name": "'Devi ' || s",
            "role": f"'{Role.WORKER}'",
            "status": f"'{Status.ACTIVE}'",
            "facility_id": "(%(facilities)s::bigint[])[1 + s %% %(facility_count)s]",
            "mobile": "'+919' || lpad(s::text, 9, '0')",
            "email": f"CASE WHEN s %% 4 = 0 THEN '{PREFIX}w.' || s || '@demo.invalid' ELSE '' END",
            "preferred_language": "CASE WHEN s %% 3 = 0 THEN 'en' ELSE 'hi' END",
            # One in fifty never logged in: the job counts from their approval instead.
            "last_login": f"CASE WHEN s %% 50 = 0 THEN NULL ELSE {seen} END",
            "status_changed_at": f"CASE WHEN s %% 50 = 0 THEN {seen} ELSE %(now)s - interval '400 days' END",
            "date_joined": "%(now)s::timestamptz - interval '400 days'",
        },
        {"facilities": facility_ids, "facility_count": len(facility_ids), "spread": SPREAD_DAYS, "count": count},
        label="accounts",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user_groups (user_id, group_id) SELECT u.id, g.id FROM accounts_user AS u"
            " JOIN auth_group AS g ON g.name = %s WHERE u.username LIKE %s",
            [Role.WORKER, f"{PREFIX}w.%"],
        )


def _sessions() -> None:
    """A live session row for every second bench account (governors included), as a login leaves it."""
    from django.db import connection

    from accounts.models import UserSession

    source = (
        "SELECT row_number() OVER (ORDER BY id) AS s, id FROM accounts_user"
        f" WHERE username LIKE '{PREFIX}%%' AND id %% 2 = 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({source}) AS u", [])
        count = cursor.fetchone()[0]
    insert_series(
        UserSession,
        count,
        {
            "session_key": "'benchp4' || md5(u.id::text)",
            "session_data": "''",
            "expire_date": "%(now)s::timestamptz + interval '12 hours'",
            "user_id": "u.id",
            "ip_address": "'10.0.0.7'",
            "user_agent": "'bench'",
        },
        {},
        label="sessions",
        source=source,
    )


# --- The baseline: the same rows, written by two statements of plain SQL --------------------------------


def _iso(column: str) -> str:
    """Python's isoformat() of a UTC timestamp in SQL (microseconds only when there are any)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {column}) = {column}"
        f" THEN '' ELSE to_char({utc}, '.US') END || '+00:00'"
    )


_OUTBOX_COLUMNS = (
    'user_id, channel, "to", kind, language, context, idempotency_key, state, attempts, last_error, created_at'
)


def _outbox(source: str, kind: str, context: str, key: str) -> str:
    """An INSERT … SELECT of one outbox row per address (SMS, then e-mail) of each account of `source`."""
    return f"""INSERT INTO accounts_notification ({_OUTBOX_COLUMNS})
        SELECT src.id, a.channel, a.address, '{kind}', COALESCE(NULLIF(src.preferred_language, ''), 'hi'),
               {context}, CASE WHEN char_length(k.text) <= 200 THEN k.text
                          ELSE 'sha256:' || encode(sha256(convert_to(k.text, 'UTF8')), 'hex') END,
               'pending', 0, '', %(now)s
        FROM {source}
        CROSS JOIN LATERAL (VALUES ('sms', btrim(src.mobile)), ('email', btrim(src.email))) AS a (channel, address)
        CROSS JOIN LATERAL (SELECT {key} || ':' || a.channel || ':' || a.address) AS k (text)
        WHERE a.address <> ''
        ON CONFLICT (idempotency_key) DO NOTHING"""


_DORMANT = """u.status = 'active' AND NOT u.is_system AND NOT u.is_superuser
    AND COALESCE(u.last_login, u.status_changed_at, u.date_joined)"""

WARNINGS = _outbox(
    f"(SELECT u.*, COALESCE(u.last_login, u.status_changed_at, u.date_joined) AS seen FROM accounts_user AS u"
    f" WHERE {_DORMANT} <= %(warn_at)s AND COALESCE(u.last_login, u.status_changed_at, u.date_joined)"
    " > %(suspend_at)s) AS src",
    "dormancy_warning",
    "%(warn_context)s::jsonb",
    f"'dormancy_warning:' || src.id || ':' || {_iso('src.seen')}",
)


SUSPENDED_KEY = "'account_suspended:' || src.id || ':' || %(now_iso)s"
DIGEST_KEY = "'digest:dormancy:suspended:' || src.id || ':' || %(now_iso)s"


def suspension_sql(history_table: str, tracked: list[str]) -> str:
    """The suspensions, their history rows, session deletions, events, owners' messages and governors'
    digests in one statement; `tracked` are the columns the history table shares with the accounts."""
    columns = ", ".join(tracked)
    digest_context = (
        "jsonb_build_object('action', 'suspended', 'count', src.n, 'names', CASE WHEN src.n > 3"
        " OR char_length(src.names) > 60 THEN left(src.names, 58) || ' …' ELSE src.names END)"
    )
    return f"""
    WITH changed AS (
        UPDATE accounts_user AS u SET status = 'suspended', suspension_cause = 'dormant',
               status_reason = %(reason)s, status_changed_at = %(now)s
        WHERE {_DORMANT} <= %(suspend_at)s
        RETURNING u.*
    ), history AS (
        INSERT INTO {history_table} ({columns}, history_date, history_change_reason, history_type, history_user_id)
        SELECT {columns}, %(now)s, %(reason)s, '~', %(actor)s FROM changed
    ), ended AS (
        DELETE FROM accounts_usersession AS s USING changed WHERE s.user_id = changed.id RETURNING s.user_id
    ), events AS (
        INSERT INTO accounts_accountevent (type, actor_id, subject_id, reason, ip_address, data, created_at)
        SELECT %(event_type)s, %(actor)s, c.id, %(reason)s, NULL,
               jsonb_build_object('from', 'active', 'to', 'suspended', 'cause', 'dormant',
                                  'sessions_ended', COALESCE(e.n, 0)), %(now)s
        FROM changed AS c LEFT JOIN (SELECT user_id, count(*) AS n FROM ended GROUP BY user_id) AS e ON e.user_id = c.id
    ), told AS (
        {_outbox("changed AS src", "account_suspended", "'{}'::jsonb", SUSPENDED_KEY)}
    ), governed AS (
        SELECT g.id AS governor, c.username
        FROM changed AS c
        LEFT JOIN accounts_facility AS f ON f.id = c.facility_id
        LEFT JOIN accounts_district AS d ON d.id = c.district_id
        JOIN accounts_user AS g ON g.status = 'active' AND g.is_active AND NOT g.is_system AND g.id <> c.id
            AND ((c.role = 'worker' AND g.role = 'supervisor' AND g.district_id = f.district_id)
              OR (c.role = 'supervisor' AND g.role = 'state_admin' AND g.state_id = d.state_id))
        WHERE g.id NOT IN (SELECT id FROM changed)
    ), digest AS (
        SELECT g.id, g.mobile, g.email, g.preferred_language, count(*) AS n,
               array_to_string((array_agg(governed.username ORDER BY governed.username COLLATE "C"))[1:3], ', ')
                   AS names
        FROM governed JOIN accounts_user AS g ON g.id = governed.governor GROUP BY g.id
    )
    {_outbox("digest AS src", "governance_digest", digest_context, DIGEST_KEY)}
    """


def history_columns() -> tuple[str, list[str]]:
    """The history table of accounts and the columns it shares with accounts_user (what it tracks)."""
    from django.db import connection

    from accounts.models import User

    table = User.history.model._meta.db_table
    with connection.cursor() as cursor:
        own = {c.name for c in connection.introspection.get_table_description(cursor, "accounts_user")}
        history = [c.name for c in connection.introspection.get_table_description(cursor, table)]
    return table, [c for c in history if c in own]


# --- What a run changed -----------------------------------------------------------------------------------


def high_marks() -> dict:
    """The highest row ids before any run: a run's new rows are those above them."""
    from django.db import connection

    from accounts.models import User

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COALESCE(max(history_id), 0) FROM " + User.history.model._meta.db_table + "),"
            " (SELECT COALESCE(max(id), 0) FROM accounts_accountevent),"
            " (SELECT COALESCE(max(id), 0) FROM accounts_notification),"
            " (SELECT count(*) FROM accounts_usersession)"
        )
        history, event, notification, sessions = cursor.fetchone()
    return {"history": history, "event": event, "notification": notification, "sessions": sessions}


def changes(now, marks: dict) -> tuple[dict, dict]:
    """(counts, fingerprints) of what the run in this transaction wrote: accounts suspended at `now`,
    history rows, events, outbox rows by kind (their content, ids and times aside) and sessions deleted."""
    from django.db import connection

    from accounts.models import User

    history = User.history.model._meta.db_table
    params = {"now": now, **marks}
    queries = {
        "suspended": "SELECT count(*), md5(string_agg(concat_ws('|', id, status, suspension_cause, status_reason),"
        " ',' ORDER BY id)) FROM accounts_user WHERE status_changed_at = %(now)s AND status = 'suspended'",
        "history_rows": f"SELECT count(*), md5(string_agg((to_jsonb(h) - 'history_id')::text, ',' ORDER BY h.id))"
        f" FROM {history} AS h WHERE h.history_id > %(history)s",
        "events": "SELECT count(*), md5(string_agg((to_jsonb(e) - 'id' - 'created_at')::text, ','"
        " ORDER BY e.subject_id)) FROM accounts_accountevent AS e WHERE e.id > %(event)s",
        "sessions_deleted": "SELECT %(sessions)s - count(*), NULL FROM accounts_usersession",
    }
    counts, prints = {}, {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, params)
            counts[name], prints[name] = cursor.fetchone()
        cursor.execute(
            "SELECT kind, count(*), count(DISTINCT user_id), md5(string_agg((to_jsonb(n) - 'id' - 'created_at')::text,"
            " ',' ORDER BY n.idempotency_key)) FROM accounts_notification AS n WHERE n.id > %(notification)s"
            " GROUP BY kind",
            params,
        )
        for kind, rows, users, digest in cursor.fetchall():
            counts[f"outbox_{kind}"], counts[f"outbox_{kind}_accounts"], prints[f"outbox_{kind}"] = rows, users, digest
    return counts, prints
