"""The `explain` governance job: tie the access log's look-ups to the work that explains them (records/explain.py).

Each run (one transaction, one run at a time, every 10 minutes) reads where the log ends, waits for older
writers as the anomalies job does (governance/watermarks.py), and writes in one statement the explanations
of the allowed views and reveals logged since its watermark, and of the still unexplained ones of the last
PRAHARI_EXPLAIN_APPOINTMENT_DAYS (an appointment booked after a look-up still explains it). Then it moves
its watermark: every look-up up to it has been judged, and one without an explanation is unexplained.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from governance.watermarks import log_ends, older_writers_gone, watermarks_lock, watermarks_move
from records.explain import explanations_write
from records.models import AnomalyWatermark

STREAM = AnomalyWatermark.Stream.EXPLANATIONS


def explain(*, now: datetime, dry_run: bool = False) -> dict:
    """Write the explanations of new and recent look-ups; {"judged_up_to", "explained": {kind: n}}."""
    hi, _account_hi, read_at = log_ends()
    if not older_writers_gone(read_at):
        return {"held_back": _("a transaction older than this run is still writing the logs"), "explained": {}}
    return explained_through(hi=hi, now=now)


def explained_through(*, hi: int, now: datetime, recheck: bool = True) -> dict:
    """Explain the look-ups up to id `hi` (the caller waited for older writers) and move the watermark there;
    the anomalies job calls it first, so that every look-up it scores is judged. `recheck`: also look again
    at the still unexplained look-ups of the last days; the anomalies job leaves that to this job's own runs
    (every look-up it scores is judged either way, and a late explanation lands within one run of this job)."""
    lo = watermarks_lock((STREAM,))[STREAM]
    since = now - timedelta(days=settings.PRAHARI_EXPLAIN_APPOINTMENT_DAYS) if recheck else now
    explained = explanations_write(lo=lo, hi=hi, since=since, now=now)
    watermarks_move({STREAM: max(lo, hi)})
    return {"judged_up_to": max(lo, hi), "explained": explained}


def judged_up_to() -> int:
    """The id of the last access event the `explain` job has judged (0 before its first run)."""
    return AnomalyWatermark.objects.filter(stream=STREAM).values_list("last_id", flat=True).first() or 0
