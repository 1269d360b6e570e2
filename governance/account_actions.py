"""The actions of the console's account page: which apply to an account now, which the viewer may take, and
the one service each calls.

Each action names its predicate (what the page offers) and, where the refusal can say why and who can, the
permission `refusal` words; the service checks the right again when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from accounts.models import RegisteredDevice, Status, User
from accounts.permissions import (
    can_approve,
    can_approve_device,
    can_attest,
    can_deactivate,
    can_end_sessions,
    can_reinstate,
    can_revoke_device,
    can_suspend,
    can_unlock,
    reinstate_codename,
)
from accounts.scoping import is_governable_by
from accounts.services.devices import device_approve, device_reject, device_revoke
from accounts.services.enrolment import onboarding_approve, onboarding_reject
from accounts.services.lifecycle import user_deactivate, user_reinstate, user_suspend
from accounts.services.lockouts import LockState, lockout_clear
from accounts.services.onboarding import invitation_resend, invitation_revoke
from accounts.services.passkeys import passkey_revoke
from accounts.services.sessions import user_sessions_end
from governance.reviews import review_attest

DeviceStatus = RegisteredDevice.Status
OPEN_STATUSES = frozenset({Status.INVITED, Status.PENDING_APPROVAL, Status.ACTIVE, Status.SUSPENDED})


def _may_invite(actor: User, account: User) -> bool:
    return actor.has_perm("accounts.invite_user") and is_governable_by(actor, account)


@dataclass(frozen=True)
class HubAction:
    """One button of the account page and the page behind it (reason and code)."""

    name: str
    label: str  # the button, and the page's heading with the account
    explains: str  # what pressing it does, on its page
    done: str  # the message once done
    may: Callable[[User, User], bool]  # may the viewer take it on this account (whatever its state)
    codename: Callable[[User], str] | None  # for `refusal`; None: not offered at all when refused
    run: Callable[..., object]  # the service: (target, acting_user, reason, ip, base_url)
    on_device: bool = False
    with_reason: bool = True
    danger: bool = False
    on_passkey: bool = False  # with on_device: the target is one of the account's passkeys

    def applies(self, account: User, *, lock: LockState, open_invitation: bool, device=None) -> bool:
        """Whether the action means anything for the account (or its `device`) as it is now."""
        return APPLIES[self.name](account, lock, open_invitation, device)


def _user_service(service):
    return lambda target, acting_user, reason, ip, base_url: service(
        user=target, acting_user=acting_user, reason=reason, ip=ip
    )


def _device_service(service):
    return lambda target, acting_user, reason, ip, base_url: service(
        device=target, acting_user=acting_user, reason=reason, ip=ip
    )


def _fixed(codename: str):
    return lambda account: codename


APPLIES = {
    "unlock": lambda a, lock, inv, d: lock.locked,
    "suspend": lambda a, lock, inv, d: a.status == Status.ACTIVE,
    "reinstate": lambda a, lock, inv, d: a.status == Status.SUSPENDED,
    "attest": lambda a, lock, inv, d: a.status == Status.ACTIVE,
    "approve-enrolment": lambda a, lock, inv, d: a.status == Status.PENDING_APPROVAL,
    "reject-enrolment": lambda a, lock, inv, d: a.status == Status.PENDING_APPROVAL,
    "resend-invitation": lambda a, lock, inv, d: a.status == Status.INVITED,
    "revoke-invitation": lambda a, lock, inv, d: a.status == Status.INVITED and inv,
    "deactivate": lambda a, lock, inv, d: a.status in OPEN_STATUSES,
    "end-sessions": lambda a, lock, inv, d: a.status == Status.ACTIVE,
    "approve-device": lambda a, lock, inv, d: d is not None and d.status == DeviceStatus.PENDING,
    "reject-device": lambda a, lock, inv, d: d is not None and d.status == DeviceStatus.PENDING,
    "revoke-device": lambda a, lock, inv, d: d is not None and d.status == DeviceStatus.APPROVED,
    "revoke-passkey": lambda a, lock, inv, d: d is not None and d.confirmed,
}

_ACTIONS = [
    HubAction(
        "unlock",
        _("Unlock"),
        _("Clears the failed sign-ins and any hold: the account may sign in again at once."),
        _("%(user)s is unlocked."),
        can_unlock,
        _fixed("unlock_user"),
        lambda target, acting_user, reason, ip, base_url: lockout_clear(
            user=target, acting_user=acting_user, reason=reason, ip=ip
        ),
    ),
    HubAction(
        "reinstate",
        _("Reinstate"),
        _("Returns the account to active: its owner may sign in again."),
        _("%(user)s is reinstated."),
        can_reinstate,
        reinstate_codename,
        _user_service(user_reinstate),
    ),
    HubAction(
        "approve-enrolment",
        _("Approve the enrolment"),
        _("Activates the account and approves the device it enrolled from."),
        _("%(user)s is approved."),
        can_approve,
        _fixed("approve_user"),
        _user_service(onboarding_approve),
    ),
    HubAction(
        "reject-enrolment",
        _("Reject the enrolment"),
        _("Refuses the account and its waiting devices; the username stays taken."),
        _("%(user)s is rejected."),
        can_approve,
        _fixed("approve_user"),
        _user_service(onboarding_reject),
        danger=True,
    ),
    HubAction(
        "attest",
        _("Attest access (re-verify)"),
        _("Says the account still needs its access: the next re-verification falls due one period on."),
        _("Access attested for %(user)s."),
        can_attest,
        _fixed("attest_user"),
        _user_service(review_attest),
    ),
    HubAction(
        "resend-invitation",
        _("Re-send the invitation link"),
        _("Closes the open link and sends a new one to the account's mobile number."),
        _("A new invitation link was sent to %(user)s."),
        _may_invite,
        None,
        lambda target, acting_user, reason, ip, base_url: invitation_resend(
            user=target, acting_user=acting_user, base_url=base_url, ip=ip
        ),
        with_reason=False,
    ),
    HubAction(
        "revoke-invitation",
        _("Revoke the invitation link"),
        _("Closes the open link: it no longer opens the enrolment."),
        _("The invitation link of %(user)s is revoked."),
        _may_invite,
        None,
        _user_service(invitation_revoke),
        danger=True,
    ),
    HubAction(
        "end-sessions",
        _("End sessions"),
        _("Signs the account out everywhere at once: every open session ends; the account stays active."),
        _("Every session of %(user)s has ended."),
        can_end_sessions,
        _fixed("end_sessions"),
        _user_service(user_sessions_end),
        danger=True,
    ),
    HubAction(
        "suspend",
        _("Suspend"),
        _("Stops the account at once: every session ends and its owner is told."),
        _("%(user)s is suspended; their sessions have ended."),
        can_suspend,
        _fixed("suspend_user"),
        _user_service(user_suspend),
        danger=True,
    ),
    HubAction(
        "deactivate",
        _("Deactivate (offboard)"),
        _("Closes the account for good: sessions end, devices and codes are removed; it cannot be undone."),
        _("%(user)s is deactivated."),
        can_deactivate,
        _fixed("deactivate_user"),
        _user_service(user_deactivate),
        danger=True,
    ),
    HubAction(
        "approve-device",
        _("Approve"),
        _("Lets the account work from this device."),
        _("Device %(code)s of %(user)s is approved."),
        can_approve_device,
        _fixed("approve_device"),
        _device_service(device_approve),
        on_device=True,
    ),
    HubAction(
        "reject-device",
        _("Reject"),
        _("Refuses this device: the account cannot work from it."),
        _("Device %(code)s of %(user)s is rejected."),
        can_approve_device,
        _fixed("approve_device"),
        _device_service(device_reject),
        on_device=True,
        danger=True,
    ),
    HubAction(
        "revoke-device",
        _("Revoke"),
        _("Ends every session on this device at once; the account cannot work from it again."),
        _("Device %(code)s of %(user)s is revoked; its sessions have ended."),
        can_revoke_device,
        _fixed("approve_device"),
        _device_service(device_revoke),
        on_device=True,
        danger=True,
    ),
]
# Recovery of a lost passkey (docs/passkeys.md): its owner's governor withdraws it; the owner then signs in with a
# code on an approved device and registers a new one.
PASSKEY_ACTIONS = [
    HubAction(
        "revoke-passkey",
        _("Withdraw"),
        _(
            "Withdraws this passkey (lost, or no longer trusted) and ends every session it opened. Its owner then "
            "signs in with a one-time code on an approved device and registers a new passkey."
        ),
        _("The passkey %(code)s of %(user)s is withdrawn; its sessions have ended."),
        can_revoke_device,
        _fixed("approve_device"),
        lambda target, acting_user, reason, ip, base_url: passkey_revoke(
            passkey=target, acting_user=acting_user, reason=reason, ip=ip
        ),
        on_device=True,
        on_passkey=True,
        danger=True,
    ),
]
HUB_ACTIONS: dict[str, HubAction] = {action.name: action for action in [*_ACTIONS, *PASSKEY_ACTIONS]}
ACCOUNT_ACTIONS = [a for a in _ACTIONS if not a.on_device]
DEVICE_ACTIONS = [a for a in _ACTIONS if a.on_device]
