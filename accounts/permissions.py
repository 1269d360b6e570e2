"""Permission predicates: `can_<verb>(actor, target)`.

Each predicate combines the role's Django permission (the groups a data migration creates) with the
jurisdiction of `accounts.scoping` and separation of duties (never oneself). The services call
`ensure(...)`; views may call the predicates to decide what to offer.
"""

from __future__ import annotations

from accounts.exceptions import NotPermitted
from accounts.models import FLAGGED_CAUSES, Status, User
from accounts.scoping import is_governable_by


def _has(actor: User, codename: str) -> bool:
    return bool(actor.is_system or actor.has_perm(f"accounts.{codename}"))


def _governs_with(actor: User, target: User, codename: str) -> bool:
    if actor is None or target is None:
        return False
    if actor.pk == target.pk:
        return False  # separation of duties: never oneself
    return _has(actor, codename) and is_governable_by(actor, target)


def can_suspend(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "suspend_user")


def can_reinstate(actor: User, target: User) -> bool:
    """Reinstating after an anomaly or canary hit belongs to a state administrator (or above)."""
    if target is not None and target.status == Status.SUSPENDED and target.suspension_cause in FLAGGED_CAUSES:
        return _governs_with(actor, target, "reinstate_flagged_user")
    return _governs_with(actor, target, "reinstate_user")


def can_deactivate(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "deactivate_user")


def can_approve(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "approve_user")


def can_attest(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "attest_user")


def can_unlock(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "unlock_user")


def ensure(allowed: bool, message: str) -> None:
    """Raise NotPermitted with `message` unless `allowed`."""
    if not allowed:
        raise NotPermitted(message)


def can_approve_device(actor: User, owner: User) -> bool:
    """Approve or reject a device of `owner`: their governor, never the owner themselves."""
    return _governs_with(actor, owner, "approve_device")


def can_revoke_device(actor: User, owner: User) -> bool:
    """Revoking shrinks access, so the owner may revoke their own device too."""
    return actor is not None and owner is not None and (actor.pk == owner.pk or can_approve_device(actor, owner))


def can_decide_alert(actor: User, subject: User) -> bool:
    """Confirm or dismiss an alert about `subject`: their governor, never the subject."""
    return _governs_with(actor, subject, "decide_alert")
