"""The anomaly rules, one line each: the job scores those with SQL, the console's alert page describes them all.

The order is the console's (its rule filter lists them so). Adding a rule: its module, a line here and its
test (docs/anomaly-rules.md, "Adding a rule").
"""

from __future__ import annotations

from governance.rules import (
    baseline,
    budget,
    burst,
    cadence,
    canary,
    failed_logins,
    many_ips,
    night,
    out_of_scope,
    unexplained,
)
from governance.rules.base import Rule

RULES: tuple[Rule, ...] = (
    burst.RULE,
    cadence.RULE,
    canary.RULE,
    budget.RULE,
    baseline.RULE,
    out_of_scope.RULE,
    unexplained.DAY_RULE,
    unexplained.WEEK_RULE,
    night.RULE,
    many_ips.RULE,
    failed_logins.RULE,
)
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
SCORED: tuple[Rule, ...] = tuple(rule for rule in RULES if rule.select is not None)
