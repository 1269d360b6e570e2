"""The reason a person gives for a change: every service that records one checks it here."""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.exceptions import DomainError

MIN_REASON_LENGTH = 3


def clean_reason(reason: str) -> str:
    """The reason without surrounding spaces; raises DomainError when it is shorter than MIN_REASON_LENGTH."""
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise DomainError(_("A reason is required (at least %(n)d characters).") % {"n": MIN_REASON_LENGTH})
    return reason
