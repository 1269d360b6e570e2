"""Celery tasks of accounts: thin wrappers with stable names; the work lives in services."""

from celery import shared_task

from accounts.services.notifications import notification_send, notifications_drain
from accounts.services.retention import axes_logs_prune
from accounts.services.sessions import sessions_clear_expired


@shared_task(name="accounts.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry; returns how many went."""
    return sessions_clear_expired()


@shared_task(
    name="accounts.send_notification",
    autoretry_for=(Exception,),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    max_retries=5,
    # Acknowledged late (settings), and put back on its queue if its worker process dies: the row is locked
    # and sent only while pending, so a row already marked sent is never sent again; one whose sender died
    # before its commit is sent again, as the drain below would send it.
    reject_on_worker_lost=True,
)
def send_notification(notification_id: int) -> bool:
    """Send one outbox row; a failure is counted on the row and retried with back-off."""
    return notification_send(notification_id=notification_id)


@shared_task(name="accounts.drain_notifications", reject_on_worker_lost=True)  # idempotent, as above
def drain_notifications() -> int:
    """Send pending outbox rows whose task never ran (e.g. the broker was down); returns how many."""
    return notifications_drain()


@shared_task(name="accounts.prune_axes_logs")
def prune_axes_logs() -> int:
    """Delete django-axes rows that no rule needs any more; returns how many went."""
    return axes_logs_prune()
