"""The named system actor: who scheduled jobs and operations commands act as, so history shows it."""

from __future__ import annotations

from accounts.models import User

SYSTEM_USERNAME = "prahari-system"


def system_user() -> User:
    """Return the system actor (created by migration 0002); it can never log in."""
    return User.objects.get(is_system=True, username=SYSTEM_USERNAME)
