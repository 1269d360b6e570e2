"""Building blocks for the set-based statements of the governance jobs.

A job that suspends or warns thousands of accounts does it in a fixed number of statements: the
accounts are selected, changed and recorded inside the database (UPDATE … RETURNING chained into
INSERT … SELECT), never loaded into Python row by row. These helpers turn an ORM queryset into the
text of such a statement and write in SQL what Python computes elsewhere (an ISO timestamp, an
outbox row's key), so that a value stored by a statement reads the same as one saved through the ORM.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.models import QuerySet

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
