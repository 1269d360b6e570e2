"""Bulk rows for the benchmarks: one `INSERT … SELECT … FROM generate_series` per chunk (PostgreSQL).

Every column the model declares gets its Python default unless the caller gives an SQL expression
for it (in terms of the series value `s`), so the rows are what the ORM would write, made at the
speed of set-based SQL. A progress line per chunk goes to stderr.
"""

from __future__ import annotations

import sys

CHUNK = 100_000


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r    {label}: {done:,} / {total:,} ({100 * done / total:.0f}%)")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def insert_series(
    model, count: int, expressions: dict[str, str], params: dict, *, label: str, source: str | None = None
) -> None:
    """Insert `count` rows of `model`: `expressions` maps a column to SQL over `s` (1 … count) and `params`.

    Rows come from `generate_series` by default, or from `source`, a SELECT whose rows carry `s`
    (numbered from 1) and whatever else the expressions read (as `u.…`); at most `count` of them.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    columns, values, params = [], [], {"now": timezone.now(), **params}
    for field in model._meta.concrete_fields:
        name = field.column
        if name in expressions:
            values.append(expressions[name])
        elif field.primary_key:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values.append("%(now)s")
        else:
            params[f"default_{name}"] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%(default_{name})s")
        columns.append(name)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} " + (
        f"FROM ({source}) AS u WHERE u.s BETWEEN %(lo)s AND %(hi)s"
        if source
        else "FROM generate_series(%(lo)s, %(hi)s) AS s"
    )
    for start in range(0, count, CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {**params, "lo": start + 1, "hi": min(start + CHUNK, count)})
        progress(label, min(start + CHUNK, count), count)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")


def workers_make(count: int, *, prefix: str) -> list[int]:
    """`count` active workers of one facility named `<prefix>.<n>` (bulk inserts), their ids in order."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, Status, User
    from bench.records import _place_and_worker

    facility, _ = _place_and_worker()
    unusable = make_password(None)
    made = 0
    while made < count:
        batch = [
            User(username=f"{prefix}.{n}", password=unusable, role=Role.WORKER, status=Status.ACTIVE, facility=facility)
            for n in range(made, min(made + 10_000, count))
        ]
        User.objects.bulk_create(batch)
        made += len(batch)
        progress("workers", made, count)
    return list(User.objects.filter(username__startswith=f"{prefix}.").order_by("pk").values_list("pk", flat=True))
