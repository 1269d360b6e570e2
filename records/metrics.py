"""The Prometheus counter of record look-ups, counted where the read path writes its access event.

`lookup_counted` is called by `records.audit.chain_append`, the writer of every search, view and reveal
event of the read path, after the commit of the transaction that wrote it: a look-up whose event rolled
back is never counted. `lookup_unlogged` counts the look-ups refused because the access log could not
be written (fail closed). Labels are the event's action and outcome, both fixed choices of the model.
"""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter

from records.models import AccessEvent

LOOKUPS = Counter(
    "prahari_record_lookups",
    "Record look-ups of the read path, by action (search, view, reveal) and outcome (the access event's, or "
    "log_unavailable: refused because the access log could not be written).",
    ["action", "outcome"],
)
UNLOGGED = "log_unavailable"
_ACTIONS = frozenset(AccessEvent.Action.values)
_OUTCOMES = frozenset(AccessEvent.Outcome.values)

for _action in AccessEvent.Action.values:  # exported from the start, at 0, so rates work from the first one
    for _outcome in (*AccessEvent.Outcome.values, UNLOGGED):
        LOOKUPS.labels(_action, _outcome)


def lookup_counted(*, action: str, outcome: str) -> None:
    """Count one look-up event being written, once its transaction commits."""
    if action in _ACTIONS and outcome in _OUTCOMES:
        transaction.on_commit(LOOKUPS.labels(action, outcome).inc, robust=True)


def lookup_unlogged(*, action: str) -> None:
    """Count a look-up refused because its access event could not be written (nothing was shown)."""
    LOOKUPS.labels(action if action in _ACTIONS else "other", UNLOGGED).inc()
