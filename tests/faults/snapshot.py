"""Every table of a database, as a comparable value: to tell that a failure left nothing behind."""

from __future__ import annotations

TABLES_SQL = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"
)


def fingerprint(cursor) -> dict[str, tuple]:
    """{table: (row count, md5 of its rows' text in order)} for every table of the schema, partitions included.
    `cursor`: a DB-API cursor (Django's or psycopg's)."""
    cursor.execute(TABLES_SQL)
    tables = [name for (name,) in cursor.fetchall()]
    result = {}
    for table in tables:
        cursor.execute(
            f"SELECT COUNT(*), md5(COALESCE(string_agg(t::text, chr(10) ORDER BY t::text), '')) FROM \"{table}\" t"
        )
        result[table] = tuple(cursor.fetchone())
    return result
