"""The digests of the governance jobs: one message per governor and run, naming their accounts."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from accounts.models import Role, Status, User
from accounts.services.notifications import notify_many
from accounts.services.setsql import ids_text

DIGEST_NAMES_MAX = 3
DIGEST_NAMES_CHARS = 60  # the digest is one SMS


def digest_send_for_ids(*, job_name: str, action: str, ids: list[int], run_at: datetime) -> int:
    """Send one message per governor for this run about their accounts among `ids` (a worker's governors: the
    active supervisors of its facility's district; a supervisor's: the active state administrators of its
    state), naming up to DIGEST_NAMES_MAX of them; return the number of outbox rows written.

    One grouping statement finds each governor's count and first names, so the accounts are never loaded.
    """
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _DIGEST_GROUPS,
            [
                *(ids_text(ids), Status.ACTIVE, Role.SUPERVISOR, Role.STATE_ADMIN, DIGEST_NAMES_MAX),
                *(Role.WORKER, Role.SUPERVISOR, Role.SUPERVISOR, Role.STATE_ADMIN),
            ],
        )
        rows = cursor.fetchall()
    governors = User.objects.in_bulk([pk for pk, _count, _names in rows])
    groups = [(governors[pk], count, names) for pk, count, names in rows]
    return _digests_notify(groups, job_name=job_name, action=action, run_at=run_at)


# Names sorted by code point (COLLATE "C", whatever the database's collation); governors read after the
# change, so one suspended in the same run is not told.
_DIGEST_GROUPS = """
    WITH account AS (
        SELECT u.id, u.username, u.role, f.district_id AS facility_district, d.state_id AS district_state
        FROM accounts_user AS u
        LEFT JOIN accounts_facility AS f ON f.id = u.facility_id
        LEFT JOIN accounts_district AS d ON d.id = u.district_id
        WHERE u.id = ANY(string_to_array(%s, ',')::bigint[])
    ), governor AS (
        SELECT id, role, district_id, state_id FROM accounts_user
        WHERE NOT is_system AND is_active AND status = %s AND role IN (%s, %s)
    )
    SELECT governor.id, count(*), (array_agg(account.username ORDER BY account.username COLLATE "C"))[1:%s]
    FROM account JOIN governor ON governor.id <> account.id AND (
        (account.role = %s AND governor.role = %s AND governor.district_id = account.facility_district)
        OR (account.role = %s AND governor.role = %s AND governor.state_id = account.district_state))
    GROUP BY governor.id ORDER BY min(account.id), governor.id
"""


def _digests_notify(groups: list[tuple[User, int, list[str]]], *, job_name: str, action: str, run_at: datetime) -> int:
    messages = []
    for governor, count, first_names in groups:
        names = ", ".join(first_names)
        if count > DIGEST_NAMES_MAX or len(names) > DIGEST_NAMES_CHARS:
            names = names[: DIGEST_NAMES_CHARS - 2] + " …"
        messages.append(
            {
                "user": governor,
                "kind": "governance_digest",
                "idempotency_key": f"digest:{job_name}:{action}:{governor.pk}:{run_at.isoformat()}",
                "context": {"action": action, "count": count, "names": names},
            }
        )
    return len(notify_many(messages))


# --- Dormancy -------------------------------------------------------------------------------------------
