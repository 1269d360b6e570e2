"""The statements a run of the anomalies job makes of the registry's rules, and the events behind their hits.

One statement per log, whatever the number of accounts, events or rules: the WITH queries its log starts with
and those its rules read (each once, after those it reads), then every rule's SELECT, joined by UNION ALL.
Each rule's rows come back as (rule, account, its columns in the order it declares them, NULLs after), every
column a DOUBLE PRECISION, and are handed back to the rule by its column names.

The access statement also adds the new allowed views to the console's tallies from the day grouping
(governance/tallies.py `view_tallies_ctes`), so the events are read once for both. It runs without JIT
(compiling its ~200 expressions costs more than any run saves by it) and with `work_mem` WORK_MEM_MB for the
job's transaction, so that its hash tables (per account and hour, day, address) stay in memory instead of
spilling to disk in batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import connection

from governance.rules.base import ACCESS, LOGS, Cte, Hit, Log, Rule, Scan, at, epoch, rows
from governance.rules.days import DAYS
from governance.rules.registry import SCORED
from governance.tallies import view_tallies_ctes

WORK_MEM_MB = 64  # PostgreSQL work_mem for the access statement (its transaction: the job's)


def hits(scan: Scan) -> list[Hit]:
    """Find every scored rule's hits over the scan: one statement per log, made even when nothing is new, so
    that a run makes a fixed number of statements."""
    found = []
    for log in LOGS:
        rules = [rule for rule in SCORED if rule.log is log]
        if not rules:
            continue
        tallies = log is ACCESS
        if tallies:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL jit = off; SET LOCAL work_mem = '{int(WORK_MEM_MB)}MB'")
        by_name = {rule.name: rule for rule in rules}
        for name, actor, *numbers in rows(*statement(log, rules, scan, tallies=tallies)):
            rule = by_name[name]
            found.append(rule.hit(scan, actor, dict(zip(rule.columns, numbers, strict=False))))
    return found


def statement(log: Log, rules: Sequence[Rule], scan: Scan, *, tallies: bool = False) -> tuple[str, dict]:
    """Make the SQL and parameters of the one statement that runs `rules` (all over `log`); with `tallies`, it
    also adds the new allowed views to the console's tallies."""
    ctes = _ordered([*log.ctes, *(cte for rule in rules for cte in rule.ctes), *([DAYS] if tallies else [])])
    width = max(len(rule.columns) for rule in rules)
    parts = [cte.sql(scan) for cte in ctes] + (view_tallies_ctes(DAYS.name) if tallies else [])
    selects = " UNION ALL ".join(_laid_out(rule, width, scan) for rule in rules)
    return f"WITH {', '.join(parts)}\n{selects}\nORDER BY 1, 2, 3", _params(log, rules, scan)


def alone(rule: Rule, scan: Scan) -> tuple[str, dict]:
    """Make the SQL and parameters of `rule`'s SELECT on its own: its rows as it yields them, named."""
    ctes = _ordered([*rule.log.ctes, *rule.ctes])
    return f"WITH {', '.join(cte.sql(scan) for cte in ctes)}\n{rule.select(scan)}", _params(rule.log, [rule], scan)


def _ordered(ctes: Iterable[Cte]) -> list[Cte]:
    """Order `ctes` and the WITH queries they read, each once and after those it reads."""
    chosen: dict[str, Cte] = {}

    def visit(cte: Cte) -> None:
        if cte.name in chosen:
            if chosen[cte.name] is not cte:
                raise ValueError(f"two WITH queries are named {cte.name}")
            return
        for need in cte.needs:
            visit(need)
        chosen[cte.name] = cte

    for cte in ctes:
        visit(cte)
    return list(chosen.values())


def _laid_out(rule: Rule, width: int, scan: Scan) -> str:
    numbers = [f"CAST({column} AS DOUBLE PRECISION)" for column in rule.columns]
    numbers += ["CAST(NULL AS DOUBLE PRECISION)"] * (width - len(rule.columns))
    return f"SELECT '{rule.name}', actor_id, {', '.join(numbers)} FROM ({rule.select(scan)}) AS found"


def _params(log: Log, rules: Sequence[Rule], scan: Scan) -> dict:
    span = scan.of(log)
    reach = max(rule.lookback() for rule in rules)
    return {
        "wm": span.wm,
        "hi": span.hi,
        "since": at(span.since - reach),
        "since_hour": at(span.since - timedelta(hours=1)),
    }


def events_in(requests: Iterable[tuple[Rule, list[int], datetime, datetime]], scan: Scan) -> list[tuple]:
    """Read (rule, account, event id, time, IP) of the events behind each (rule, accounts, start, end) request: the
    events of the rule's log that it counts, of those accounts, between start and end, up to the log's end read
    by the scan; by rule, account and time. One statement for all the hits of a run, whatever their number."""
    parts, params = [], []
    for rule, accounts, start, end in requests:
        log, marks = rule.log, ", ".join(["%s"] * len(accounts))
        parts.append(
            f"SELECT '{rule.name}', {log.account}, id, {epoch('created_at')}, ip_address, created_at FROM {log.table} "
            f"WHERE {log.account} IN ({marks}) AND created_at >= %s AND created_at <= %s AND id <= %s "
            f"AND {rule.counts}"
        )
        params += [*accounts, at(start), at(end), scan.of(log).hi]
    if not parts:
        return []
    return [row[:5] for row in rows(" UNION ALL ".join(parts) + " ORDER BY 1, 2, 6, 3", params)]
