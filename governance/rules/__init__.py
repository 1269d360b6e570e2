"""The anomaly rules of SECURITY.md §Record access: one object per rule, one module per rule.

- `base.py`: what a rule is made of (`Rule`, `Words`, `Cte`), the events a run scores (`Scan`), what a rule
  finds (`Window`, `Hit`), the logs it reads (`ACCESS`, `ACCOUNT`) and the SQL helpers the rules share;
  `words.py`: numbers and times in the reader's language, for the rules' sentences;
- one module per rule (`burst.py`, `baseline.py`, …), and `days.py`, the grouping by local day and night
  that the day rules and the console's tallies read;
- `registry.py`: the rules, listed one by one;
- `statements.py`: the statements a run makes of them (one per log) and the events behind their hits.

The job (governance/anomalies.py) and the alert page (governance/evidence.py) read the rules through the
registry only. docs/anomaly-rules.md says how to add one.
"""
