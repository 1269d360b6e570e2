"""`verify_audit`'s whole check: the access log's hash chains, then the signed checkpoints outside the database.

The chains (records/audit.py) catch an edited, inserted or deleted event and a head that disagrees with its
chain; the checkpoints (records/checkpoints.py) catch what a valid chain cannot show: its latest events
deleted and its head wound back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from records.audit import chains_verify
from records.checkpoints import CheckpointsVerdict, checkpoints_verify

PROBLEMS_NAMED = 10


@dataclass
class Verdict:
    checked: int
    problem: str | None = None  # the first broken link, or the chains that fail their checkpoints, named
    checkpoints: CheckpointsVerdict | None = None  # what the checkpoint files said (once the chains verify)


def verify(actor_ids: Iterable[int] | None = None) -> Verdict:
    """Check every chain (or only those of `actor_ids`), then, when they verify, that they still hold every
    event the signed checkpoint files recorded; return how many events were checked and the first problem of
    the chains, or every actor whose chain fails its checkpoints (the first PROBLEMS_NAMED, then a count)."""
    actor_ids = set(actor_ids) if actor_ids is not None else None
    checked, problem = chains_verify(actor_ids)
    if problem:
        return Verdict(checked, problem)
    found = checkpoints_verify(actor_ids=actor_ids)
    problems = found.problems[:PROBLEMS_NAMED]
    if len(found.problems) > PROBLEMS_NAMED:
        problems.append(f"and {len(found.problems) - PROBLEMS_NAMED} more")
    return Verdict(checked, "; ".join(problems) or None, found)
