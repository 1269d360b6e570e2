"""`python -m bench._sizes`: the bytes one row of the growing tables and one queued message take (docs/operations.md).

On a throwaway bench database (bench.django_setup: the real settings, migrated, the access log partitioned
by month) seeded as `seed_demo --force --workers 60` seeds it: 30 days of the demo workers' look-ups appended through
their chains (real hashes, purposes, addresses), explained and scored by the anomalies job. For each table,
every leaf of its partition tree (pg_partition_tree; a plain table is its own leaf) is measured with
pg_total_relation_size (heap, indexes, TOAST, free space as PostgreSQL left it, after VACUUM ANALYZE); the
bytes of the leaves holding rows, over the rows, is a row's cost (the empty months made ahead are not).

Then, with REDIS_URL, `--messages` messages of the outbox's task (`accounts.send_notification`, one id, as
the web sends it) go to a queue of their own: the queue's MEMORY USAGE and the server's used_memory growth,
each over the messages; the queue is deleted after. And ten Argon2id password checks with the real hasher:
wall and CPU seconds each (the CPU of all the hasher's threads). With `--wal-events N`, N access events
appended after a CHECKPOINT and the WAL they wrote (only on a PostgreSQL server nothing else writes to).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys

TABLES = (
    "records_accessevent",
    "records_accessexplanation",
    "accounts_accountevent",
    "accounts_alert",
    "accounts_usersession",
)


def table_sizes() -> dict:
    """Per table: rows, bytes on disk (every leaf), the leaves holding rows and their bytes, bytes per row of those."""
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass) WHERE isleaf", [table])
            leaves = [row[0] for row in cursor.fetchall()] or [table]  # a plain table is its own leaf
            rows = total = used = 0
            holding = 0
            for leaf in leaves:
                cursor.execute(f"SELECT COUNT(*), pg_total_relation_size('{leaf}'::regclass) FROM {leaf}")
                count, size = cursor.fetchone()
                rows, total = rows + count, total + size
                if count:
                    holding, used = holding + 1, used + size
            sizes[table] = {
                "rows": rows,
                "bytes": total,
                "leaves": len(leaves),
                "leaves_with_rows": holding,
                "bytes_of_those": used,
                "bytes_per_row": round(used / rows) if rows else None,
            }
    return sizes


def queue_sizes(messages: int) -> dict:
    import redis
    from django.conf import settings

    from accounts.tasks import send_notification

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    queue = f"prahari-sizes-{secrets.token_hex(4)}"
    before = client.info("memory")["used_memory"]
    try:
        for n in range(messages):
            send_notification.apply_async(args=[1_000_000 + n], queue=queue)
        depth = client.llen(queue)
        in_queue = client.memory_usage(queue, samples=0) or 0
        grown = client.info("memory")["used_memory"] - before
    finally:
        client.delete(queue)
    return {
        "messages": messages,
        "queued": depth,
        "queue_bytes_per_message": round(in_queue / depth) if depth else None,
        "used_memory_growth_per_message": round(grown / depth) if depth else None,
        "broker": settings.CELERY_BROKER_URL.split("://")[0],
    }


def password_check(checks: int = 10) -> dict:
    """One Argon2id check_password with the settings' hasher: wall seconds and this process's CPU seconds (all
    its threads: the hasher's lanes run in parallel), medians, and the hasher's memory in MiB."""
    import statistics
    import time

    from django.contrib.auth.hashers import check_password, get_hasher, make_password

    hasher = get_hasher()
    encoded = make_password("a password of the bench's own")
    walls, cpus = [], []
    for _ in range(checks):
        wall, cpu = time.perf_counter(), time.process_time()
        if not check_password("a password of the bench's own", encoded):
            raise RuntimeError("the check failed")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "hasher": hasher.algorithm,
        "memory_mib": getattr(hasher, "memory_cost", 0) // 1024,
        "parallelism": getattr(hasher, "parallelism", None),
        "wall_s": round(statistics.median(walls), 4),
        "cpu_s": round(statistics.median(cpus), 4),
    }


def wal_per_event(events: int) -> dict:
    """WAL written per access event appended (`access_event_append`, one statement: the event and its chain head),
    from a CHECKPOINT on, so each page's first change after it carries its full image as in production. The
    WAL position is the server's: only meaningful on a server nothing else writes to."""
    from django.db import connection

    from accounts.models import Role, Status, User
    from records.audit import access_event_append

    actors = list(User.objects.filter(role=Role.WORKER, status=Status.ACTIVE).order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT pg_current_wal_lsn()")
        start = cursor.fetchone()[0]
    for n in range(events):
        access_event_append(
            actor=actors[n % len(actors)],
            action="view",
            outcome="allowed",
            purpose="due_dose",
            detail={},
            ip_address=f"10.0.{n % 250}.{n % 7 + 1}",
            device_id=None,
            beneficiary_id=None,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [start])
        written = int(cursor.fetchone()[0])
    return {
        "events": events,
        "actors": len(actors),
        "wal_bytes": written,
        "wal_bytes_per_event": round(written / events),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._sizes", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages queued to measure (default 10,000)")
    parser.add_argument("--workers", type=int, default=60, help="seed_demo's health workers (default 60)")
    parser.add_argument(
        "--wal-events", type=int, default=0, help="append this many events and measure the WAL (a server of its own)"
    )
    args = parser.parse_args(argv)
    import bench

    bench.django_setup()
    from django.core.management import call_command

    call_command("seed_demo", "--force", "--workers", str(args.workers), verbosity=0)
    result = {"tables": table_sizes(), "password_check": password_check(), **bench.provenance()}
    if args.wal_events:
        result["wal"] = wal_per_event(args.wal_events)
    if os.environ.get("REDIS_URL"):
        result["redis"] = queue_sizes(args.messages)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
