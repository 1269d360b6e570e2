"""The crafted cases of benchmark P3's data (bench/_p3_data.py): which accounts trip a rule or sit on its edge.

A worker's case is its row number k modulo 50. Cases 0–9 trip one rule each; 10–45 sit just on either side of
a threshold or a window's edge, or mix events scored by an earlier run with new ones in one window; 46–49
("quiet") have nothing but their runs, for the baseline rule's history and percentile. The test
(tests/bench/test_p3_baseline.py) says where each edge must fall.
"""

from __future__ import annotations

QUIET = (46, 47, 48, 49)
DUE, ASKED = "due_dose", "beneficiary_request"

# What the crafted cases are for, by `k % 50` (the test looks accounts up by these names).
CASES = {
    "burst": 0,
    "cadence": 1,
    "night": 2,
    "many_ips": 3,
    "out_of_scope": 4,
    "baseline": 5,
    "unexplained_day": 6,
    "unexplained_week": 7,
    "failed_logins": 8,
    "canary": 9,
    "oos_old_and_new": 10,
    "burst_old_and_new": 11,
    "cadence_cv_just_above": 12,
    "cadence_cv_just_below": 13,
    "cadence_zero_gaps": 14,
    "oos_two": 15,
    "many_ips_old_and_new": 18,
    "failed_four": 30,
    "failed_ten_minutes_exactly": 31,
    "failed_old_and_new": 32,
    "canary_old": 33,
    "over_budget": 34,
    "week_exactly_limit": 35,
    "day_one_over": 36,
    "night_from_its_first_second": 38,
    "night_ends_before_six": 39,
    "night_old_and_new": 40,
    "night_across_midnight": 41,
    "burst_exactly_limit": 42,
    "burst_ten_minutes_exactly": 43,
    "many_ips_hour_exactly": 44,
    "many_ips_hour_and_a_second": 45,
    "baseline_seven_days": 46,
    "baseline_six_days": 47,
    "baseline_at_percentile": 48,
    "baseline_over_percentile": 49,
}


def _hm(h: int, m: int = 0, s: int = 0) -> int:
    return h * 3600 + m * 60 + s


# Crafted access events: (case, days before the scored day, start (seconds after local midnight), count, step
# (seconds), pattern, action, outcome, purpose, addresses, first extra address). Patterns: "ms" every `step`
# plus 0–299 ms; "even" every `step` exactly; "inner" every `step`, the inner ones moved by −2 to 2 whole
# seconds (the first and last exact); "alt17"/"alt23" gaps of 17 and 23 seconds alternating, starting with
# that one; "same" all at one instant; "human" about every 300 seconds, irregular. Addresses: "own" (the
# worker's address of that block), "extra" (octet `first extra address` + i).
RUNS: list[tuple] = [
    (0, 0, _hm(11), 70, 5, "ms", "view", "allowed", DUE, "own", 0),
    (1, 0, _hm(4, 55), 40, 20, "ms", "search", "allowed", DUE, "own", 0),
    (2, 0, _hm(23), 12, 300, "ms", "view", "allowed", DUE, "own", 0),
    (3, 0, _hm(13), 4, 300, "ms", "search", "allowed", DUE, "extra", 201),
    (4, 0, _hm(10), 4, 600, "ms", "view", "out_of_scope", DUE, "own", 0),
    *[(7, d, _hm(16), 15, 60, "ms", "reveal", "allowed", ASKED, "own", 0) for d in range(1, 7)],
    (7, 0, _hm(16), 20, 60, "ms", "reveal", "allowed", ASKED, "own", 0),
    (9, 0, _hm(12, 30), 1, 0, "ms", "view", "canary", DUE, "own", 0),
    (10, 0, _hm(2), 2, 1800, "ms", "view", "out_of_scope", DUE, "own", 0),
    (10, 0, _hm(10), 1, 0, "ms", "view", "out_of_scope", DUE, "own", 0),
    (11, 0, _hm(4, 53, 20), 40, 10, "ms", "view", "allowed", DUE, "own", 0),
    (11, 0, _hm(5, 0, 5), 25, 5, "ms", "view", "allowed", DUE, "own", 0),
    (12, 0, _hm(6), 30, 0, "alt17", "search", "allowed", DUE, "own", 0),
    (13, 0, _hm(6), 30, 0, "alt23", "search", "allowed", DUE, "own", 0),
    (14, 0, _hm(6, 20), 30, 0, "same", "search", "allowed", DUE, "own", 0),
    (15, 0, _hm(10), 2, 600, "ms", "view", "out_of_scope", DUE, "own", 0),
    (18, 0, _hm(4, 30), 2, 900, "even", "search", "allowed", DUE, "extra", 201),
    (18, 0, _hm(5, 10), 1, 0, "even", "search", "allowed", DUE, "extra", 203),
    (33, 3, _hm(12), 1, 0, "ms", "view", "canary", DUE, "own", 0),
    (34, 0, _hm(15, 30), 3, 60, "ms", "view", "over_budget", DUE, "own", 0),
    (35, 7, _hm(16), 20, 60, "ms", "reveal", "allowed", ASKED, "own", 0),
    *[(35, d, _hm(16), 14, 60, "ms", "reveal", "allowed", ASKED, "own", 0) for d in range(1, 7)],
    (35, 0, _hm(16), 16, 60, "ms", "reveal", "allowed", ASKED, "own", 0),
    (36, 0, _hm(16), 21, 60, "ms", "reveal", "allowed", ASKED, "own", 0),
    (38, 0, _hm(22), 1, 0, "even", "view", "allowed", DUE, "own", 0),
    (38, 0, _hm(23), 10, 300, "ms", "view", "allowed", DUE, "own", 0),
    (39, 0, _hm(5), 10, 300, "ms", "view", "allowed", DUE, "own", 0),
    (39, 0, _hm(6), 1, 0, "even", "view", "allowed", DUE, "own", 0),
    (40, 0, _hm(3), 6, 300, "ms", "view", "allowed", DUE, "own", 0),
    (40, 0, _hm(5, 10), 5, 300, "ms", "view", "allowed", DUE, "own", 0),
    (41, 1, _hm(22, 30), 6, 300, "ms", "view", "allowed", DUE, "own", 0),
    (41, 0, _hm(5, 10), 5, 300, "ms", "view", "allowed", DUE, "own", 0),
    (42, 0, _hm(6, 30), 60, 10, "inner", "view", "allowed", DUE, "own", 0),
    (43, 0, _hm(6, 30), 61, 10, "inner", "view", "allowed", DUE, "own", 0),
    (44, 0, _hm(6, 10), 3, 1800, "even", "search", "allowed", DUE, "extra", 201),
    (45, 0, _hm(6, 10), 2, 1800, "even", "search", "allowed", DUE, "extra", 201),
    (45, 0, _hm(7, 10, 1), 1, 0, "even", "search", "allowed", DUE, "extra", 203),
    # Quiet accounts: a history of single-view days, then 40 or 41 views on the scored day.
    (46, 31, _hm(10), 30, 60, "ms", "view", "allowed", DUE, "own", 0),
    *[(46, d, _hm(10), 1, 0, "ms", "view", "allowed", DUE, "own", 0) for d in range(1, 8)],
    (46, 0, _hm(9), 41, 0, "human", "view", "allowed", DUE, "own", 0),
    *[(47, d, _hm(10), 1, 0, "ms", "view", "allowed", DUE, "own", 0) for d in range(1, 7)],
    *[(47, d, _hm(10), 2, 60, "ms", "search", "allowed", DUE, "own", 0) for d in range(10, 13)],
    (47, 0, _hm(9), 41, 0, "human", "view", "allowed", DUE, "own", 0),
    *[(c, d, _hm(10), 2, 600, "ms", "view", "allowed", DUE, "own", 0) for c in (48, 49) for d in range(3, 22)],
    *[(c, d, _hm(10), 8, 600, "ms", "view", "allowed", DUE, "own", 0) for c in (48, 49) for d in (1, 2)],
    (48, 0, _hm(9), 40, 0, "human", "view", "allowed", DUE, "own", 0),
    (49, 0, _hm(9), 41, 0, "human", "view", "allowed", DUE, "own", 0),
]

# Crafted failed logins: (case, days before, start, count, step, pattern, account event type).
FAILURES: list[tuple] = [
    (8, 0, _hm(12), 5, 60, "ms", 202),
    (30, 0, _hm(12), 4, 60, "ms", 201),
    (31, 0, _hm(12), 5, 150, "even", 201),
    (32, 0, _hm(4, 57), 3, 60, "even", 201),
    (32, 0, _hm(5, 0, 30), 2, 30, "even", 202),
]


def values_sql(rows: list[tuple]) -> str:
    """The rows as an SQL VALUES list, each led by its index (`run`); the values are this module's constants."""

    def literal(value) -> str:
        return repr(value) if isinstance(value, int) else "'" + str(value) + "'"

    return ", ".join("(" + ", ".join(literal(v) for v in (n, *row)) + ")" for n, row in enumerate(rows))
