"""Pruning what policy allows to go. Never an access event or a history row inside its retention period."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.utils import timezone

# django-axes' failure log only serves the per-IP rule (one hour, plus one hour of refusal) and
# support questions; every failure is also an AccountEvent, kept for the audit retention period.
AXES_FAILURE_LOG_DAYS = 2


def axes_logs_prune(*, now=None) -> int:
    """Delete axes failure-log rows older than AXES_FAILURE_LOG_DAYS and attempts past their cool-off.

    Returns how many rows went. Keeps axes' tables from growing without bound.
    """
    now = now or timezone.now()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=now - timedelta(days=AXES_FAILURE_LOG_DAYS)).delete()
    cooled = now - timedelta(minutes=settings.PRAHARI_LOCKOUT_MINUTES)
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=cooled).delete()
    return failures + attempts


def history_prune(*, now=None) -> int:
    """Delete history rows (django-simple-history) older than PRAHARI_HISTORY_RETENTION_DAYS; return how many."""
    from simple_history.models import registered_models

    cutoff = (now or timezone.now()) - timedelta(days=settings.PRAHARI_HISTORY_RETENTION_DAYS)
    deleted = 0
    for model in registered_models.values():
        if not hasattr(model, "history"):
            continue  # a many-to-many table's history belongs to its model's
        count, _ = model.history.filter(history_date__lt=cutoff).delete()
        deleted += count
    return deleted
