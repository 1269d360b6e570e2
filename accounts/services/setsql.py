"""Building blocks for the set-based statements of the governance jobs.

A job that suspends or warns thousands of accounts does it in a fixed number of statements: the
accounts are selected, changed and recorded inside the database (UPDATE … RETURNING chained into
INSERT … SELECT), never loaded into Python row by row. These helpers turn an ORM queryset into the
text of such a statement and write in SQL what Python computes elsewhere (an ISO timestamp, an
outbox row's key), so that a value stored by a statement reads the same as one saved through the ORM.
"""

from __future__ import annotations

from functools import cache

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet

# Every character Python's str.strip() removes (str.isspace(); a test checks the list): btrim() with
# this set strips exactly what it does.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def queryset_sql(queryset: QuerySet) -> tuple[str, list]:
    """The SELECT text and parameters of `queryset` (FOR UPDATE included when it selects for update)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


# Ids travel as one comma-separated text (psycopg adapts a list of 5,000 ints element by element, in
# Python: 10 ms; a text is one value): `ANY(string_to_array(%s, ',')::bigint[])` with ids_text(ids).
def ids_text(ids: list[int]) -> str:
    return ",".join(map(str, ids))


def ids_list(text: str | None) -> list[int]:
    """The ids of an `array_to_string(ARRAY(SELECT id …), ',')` column."""
    return [int(pk) for pk in text.split(",")] if text else []


def own_table_where(queryset: QuerySet) -> tuple[str, list] | None:
    """The WHERE text and parameters of `queryset` when it reads only its model's table (columns named
    "table"."column", fit for an UPDATE of that table); None when it joins others or selects nothing."""
    query = queryset.query
    if query.is_empty() or sum(1 for count in query.alias_refcount.values() if count) != 1:
        return None
    try:
        sql, params = query.get_compiler(using=queryset.db).compile(query.where)
    except (EmptyResultSet, FullResultSet):
        return None
    return sql, list(params)


def isoformat_sql(expression: str) -> str:
    """SQL for `datetime.isoformat()` of a timestamptz as Django reads it (UTC): microseconds only when not 0."""
    utc = f"(({expression}) AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE to_char({utc}, '.US') END"
        " || '+00:00'"
    )


@cache
def row_insert_sql(model: type[Model]) -> tuple[list, str]:
    """The fields of a `model` row and its INSERT, built once: every concrete field but a primary key the
    database numbers, which the INSERT returns instead."""
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if not (field is pk and pk.db_returning)]
    columns = ", ".join(field.column for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    returning = f" RETURNING {pk.column}" if pk.db_returning else ""
    return fields, f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders}){returning}"  # noqa: S608


def row_values(obj: Model, fields: list, *, add: bool, using: str = DEFAULT_DB_ALIAS) -> list:
    """The values of `fields` of `obj`, prepared as Model.save() prepares them (auto_now and auto_now_add too)."""
    connection = connections[using]
    return [field.get_db_prep_save(field.pre_save(obj, add), connection) for field in fields]


def row_insert(obj: Model, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT `obj` as its save() would, in a statement built once (`row_insert_sql`), its number set from
    the database. Neither save() nor the save signals run: only for rows that no override or receiver adds to."""
    fields, sql = row_insert_sql(type(obj))
    with connections[using].cursor() as cursor:
        cursor.execute(sql, row_values(obj, fields, add=True, using=using))
        if obj._meta.pk.db_returning:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, using
