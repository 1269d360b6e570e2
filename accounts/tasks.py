"""Celery tasks of accounts: thin wrappers with stable names; the work lives in services."""

from celery import shared_task

from accounts.services.sessions import sessions_clear_expired


@shared_task(name="accounts.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry; returns how many went."""
    return sessions_clear_expired()
