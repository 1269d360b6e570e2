"""Permission predicates: `can_<verb>(actor, target)`.

Each predicate combines the role's Django permission (the groups a data migration creates) with the
jurisdiction of `accounts.scoping` and separation of duties (never oneself). The services call
`ensure(...)`; views may call the predicates to decide what to offer.
"""

from __future__ import annotations

import logging

from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.exceptions import NotPermitted
from accounts.models import FLAGGED_CAUSES, Status, User
from accounts.scoping import is_governable_by, possible_governors

# What each governed action is called in a refusal ("You may not suspend this account: …").
ACTIONS = {
    "suspend_user": gettext_lazy("suspend this account"),
    "reinstate_user": gettext_lazy("reinstate this account"),
    "reinstate_flagged_user": gettext_lazy("reinstate this account"),
    "deactivate_user": gettext_lazy("deactivate this account"),
    "approve_user": gettext_lazy("approve or reject this account"),
    "attest_user": gettext_lazy("review this account"),
    "unlock_user": gettext_lazy("unlock this account"),
    "approve_device": gettext_lazy("decide on this device"),
    "decide_alert": gettext_lazy("decide on this alert"),
    "invite_user": gettext_lazy("manage this account's invitation"),
    "end_sessions": gettext_lazy("end this account's sessions"),
}
# Actions without a Django permission of their own: the permission that carries them.
PERMISSION_OF = {"end_sessions": "suspend_user"}
NAMED = 3  # at most this many people named as able to act

log = logging.getLogger("prahari.security")  # refused governance actions: who, which right, on which account


def _has(actor: User, codename: str) -> bool:
    return bool(actor.is_system or actor.has_perm(f"accounts.{PERMISSION_OF.get(codename, codename)}"))


def _governs_with(actor: User, target: User, codename: str) -> bool:
    if actor is None or target is None:
        return False
    if actor.pk == target.pk:
        return False  # separation of duties: never oneself
    return _has(actor, codename) and is_governable_by(actor, target)


def can_suspend(actor: User, target: User) -> bool:
    return _governs_with(actor, target, "suspend_user")


def can_end_sessions(actor: User, target: User) -> bool:
    """End every session of `target`: whoever may suspend them (the lesser step), never oneself."""
    return _governs_with(actor, target, "end_sessions")


def reinstate_codename(target: User) -> str:
    """Reinstating after an anomaly or canary hit belongs to a state administrator (or above)."""
    flagged = target is not None and target.status == Status.SUSPENDED and target.suspension_cause in FLAGGED_CAUSES
    return "reinstate_flagged_user" if flagged else "reinstate_user"


def can_reinstate(actor: User, target: User) -> bool:
    return _governs_with(actor, target, reinstate_codename(target))


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


def ensure_may(
    actor: User, target: User, codename: str, *, allowed: bool | None = None, why: str | None = None
) -> None:
    """Raise NotPermitted unless `actor` governs `target` with the permission `codename` (or, given, `allowed`:
    a predicate's own answer), saying why (`why`, when the rule is the caller's) and naming who can (`refusal`)."""
    if not (_governs_with(actor, target, codename) if allowed is None else allowed):
        log.warning(
            "refused %s by user %s on account %s", codename, getattr(actor, "pk", None), getattr(target, "pk", None)
        )
        raise NotPermitted(refusal(actor, target, codename, why=why))


def refusal(actor: User, target: User, codename: str, *, why: str | None = None) -> str:
    """Why `actor` may not take the action `codename` on `target` (`why`: the caller's own reason), and who
    can, in the active language. `target` may be an account yet to be created (an invitation's role and
    place): then who can is whoever governs that place with the permission."""
    what = ACTIONS[codename]
    if why is not None:
        return f"{why} {_who_can(actor, target, codename)}"
    if actor is not None and target is not None and actor.pk == target.pk:
        why = _("You may not %(what)s: it is your own account.")
    elif codename == "reinstate_flagged_user":
        why = _(
            "You may not %(what)s: it was suspended for an anomaly or a canary, which only a state administrator lifts."
        )
    elif not is_governable_by(actor, target):
        why = _("You may not %(what)s: it is outside your jurisdiction.")
    else:
        why = _("You may not %(what)s: your role does not allow it.")
    return f"{why % {'what': what}} {_who_can(actor, target, codename)}"


def _who_can(actor: User, target: User, codename: str) -> str:
    near = possible_governors(target).exclude(pk=getattr(actor, "pk", None))[:20]
    if target.pk is None:  # not created yet: its governors are those of its place
        able = [person for person in near if _has(person, codename)][:NAMED]
    else:
        able = [person for person in near if _governs_with(person, target, codename)][:NAMED]
    if not able:
        return _("Ask your state administrator.")
    names = [
        _("%(name)s (%(role)s)") % {"name": p.get_full_name() or p.username, "role": p.get_role_display()} for p in able
    ]
    return _("%(people)s can.") % {"people": get_text_list(names, _("or"))}


def can_approve_device(actor: User, owner: User) -> bool:
    """Approve or reject a device of `owner`: their governor, never the owner themselves."""
    return _governs_with(actor, owner, "approve_device")


def can_revoke_device(actor: User, owner: User) -> bool:
    """Revoking shrinks access, so the owner may revoke their own device too."""
    return actor is not None and owner is not None and (actor.pk == owner.pk or can_approve_device(actor, owner))


def can_decide_alert(actor: User, subject: User) -> bool:
    """Confirm or dismiss an alert about `subject`: their governor, never the subject."""
    return _governs_with(actor, subject, "decide_alert")
