"""Where a request came from, read the same way django-axes reads it."""

from __future__ import annotations

from axes.helpers import get_client_ip_address


def client_ip(request) -> str | None:
    """The client's IP address as django-axes sees it (so lockouts and events agree), or None."""
    if request is None:
        return None
    return get_client_ip_address(request) or None
