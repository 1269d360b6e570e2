"""The console's account page: who the account is, its status and lock in words, its devices, sessions, latest
record access and open alerts, and the actions the viewer may take on it now.

Read in a fixed number of queries whatever the number of devices, sessions, events or alerts (the query-count
test in tests/governance/test_account_hub.py holds it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.dates import written_date, written_moment
from accounts.models import (
    FLAGGED_CAUSES,
    AccountEvent,
    AccountEventType,
    Alert,
    Invitation,
    LoginHold,
    RegisteredDevice,
    Role,
    Status,
    User,
    UserSession,
)
from accounts.permissions import refusal
from accounts.services.lockouts import LockState, lock_state
from accounts.services.passkeys import passkey_history, passkey_list_for_user, passkey_required
from accounts.sms import mask_mobile
from governance.account_actions import ACCOUNT_ACTIONS, DEVICE_ACTIONS, PASSKEY_ACTIONS, HubAction
from governance.evidence import rule_title, with_purpose
from governance.unexplained import explained_shares, share_words

STATUS_EVENTS = [
    AccountEventType.USER_INVITED,
    AccountEventType.USER_ENROLLED,
    AccountEventType.USER_APPROVED,
    AccountEventType.USER_REJECTED,
    AccountEventType.USER_SUSPENDED,
    AccountEventType.USER_REINSTATED,
    AccountEventType.USER_DEACTIVATED,
    AccountEventType.USER_EXPIRED,
]
OPEN_ALERTS = 20
RECENT_EVENTS = 20  # the account's latest access events shown on the page


@dataclass(frozen=True)
class Offered:
    """An action on the page: a button when `refused` is empty, else a disabled button with the refusal."""

    action: HubAction
    refused: str = ""


@dataclass
class AccountHub:
    account: User
    mobile: str
    status_words: str
    lifted_by: str
    lock: LockState
    lock_words: str
    review_words: str
    share_words: str
    devices: list[RegisteredDevice]
    sessions: list[UserSession]
    access_events: list
    alerts: list[Alert]
    passkeys: list = field(default_factory=list)  # PasskeyRow, each with its `offered` actions
    passkey_history: list = field(default_factory=list)
    passkey_required: bool = False
    actions: list[Offered] = field(default_factory=list)


def _actor_words(event: AccountEvent | None) -> str:
    if event is None or event.actor is None:
        return _("unknown")
    if event.actor.is_system:
        return _("the scheduled jobs")
    return event.actor.get_full_name() or event.actor.username


def _status_words(account: User, event: AccountEvent | None, invitation: Invitation | None) -> str:
    """The status as a sentence: when, by whom, why (the cause and the recorded reason)."""
    when = written_date(account.status_changed_at or (event.created_at if event else account.date_joined))
    facts = {"when": when, "who": _actor_words(event), "reason": account.status_reason or "—"}
    if account.status == Status.SUSPENDED:
        facts["cause"] = account.get_suspension_cause_display()
        return _("Suspended on %(when)s by %(who)s (%(cause)s): %(reason)s") % facts
    if account.status == Status.ACTIVE:
        return _("Active since %(when)s.") % facts
    if account.status == Status.DEACTIVATED:
        return _("Deactivated on %(when)s by %(who)s: %(reason)s. It cannot be used again.") % facts
    if account.status == Status.INVITED:
        if invitation is not None:
            return _("Invited; the enrolment link is open until %(until)s.") % {
                "until": written_moment(invitation.expires_at)
            }
        return _("Invited; no enrolment link is open.")
    if account.status == Status.PENDING_APPROVAL:
        return _("Enrolled on %(when)s; waiting for a supervisor's approval.") % facts
    if account.status == Status.REJECTED:
        return _("Enrolment rejected on %(when)s by %(who)s: %(reason)s") % facts
    return _("The invitation expired on %(when)s.") % facts


def _lifted_by(account: User) -> str:
    if account.status != Status.SUSPENDED:
        return ""
    if account.suspension_cause in FLAGGED_CAUSES:
        return _("Only a state administrator may reinstate it.")
    if account.role == Role.WORKER:
        return _("Its district supervisor or a state administrator may reinstate it.")
    return _("A state administrator may reinstate it.")


def _lock_words(lock: LockState, hold_locks: int | None) -> str:
    if lock.held_since is not None:
        return _("Held since %(since)s after %(locks)d locks: only an unlock lifts it.") % {
            "since": written_moment(lock.held_since),
            "locks": hold_locks or 0,
        }
    if lock.locked_until is not None:
        return _("Locked until %(until)s after %(failures)d failed sign-ins; it ends by itself, or unlock it.") % {
            "until": written_moment(lock.locked_until),
            "failures": lock.failures,
        }
    if lock.failures:
        return _("Not locked; %(failures)d failed sign-ins recently.") % {"failures": lock.failures}
    return _("Not locked.")


def _review_words(account: User) -> str:
    if account.review_due_at is None:
        return _("No re-verification is scheduled.")
    due = written_date(account.review_due_at)
    words = (
        _("Re-verification was due on %(due)s: overdue.")
        if account.review_due_at <= timezone.now()
        else _("Re-verification is due on %(due)s.")
    ) % {"due": due}
    if account.reconfirm_pending:
        words += " " + _("The owner re-confirms at the next sign-in.")
    return words


def _offer(viewer: User, account: User, action: HubAction) -> Offered | None:
    if action.may(viewer, account):
        return Offered(action)
    if action.codename is None:
        return None
    return Offered(action, refused=refusal(viewer, account, action.codename(account)))


def account_hub_read(account: User, *, viewer: User) -> AccountHub:
    """Everything the account page shows to `viewer`, who reads `account` through their scope."""
    from records.models import AccessEvent

    lock = lock_state(account)
    hold_locks = None
    if lock.held_since is not None:
        hold_locks = LoginHold.objects.filter(user=account, cleared_at__isnull=True).values_list("lockouts", flat=True)
        hold_locks = hold_locks.first()
    event = (
        AccountEvent.objects.filter(subject=account, type__in=STATUS_EVENTS)
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    invitation = None
    if account.status == Status.INVITED:
        invitation = Invitation.objects.filter(user=account, state=Invitation.State.OPEN).order_by("-pk").first()
    devices = list(
        RegisteredDevice.objects.filter(user=account).select_related("decided_by").order_by("status", "-created_at")
    )
    sessions = list(
        UserSession.objects.filter(user=account, expire_date__gt=timezone.now())
        .select_related("device")
        .order_by("-created_at")
    )
    events = AccessEvent.objects.filter(actor=account).select_related("beneficiary", "device")
    alerts = list(Alert.objects.filter(subject=account, status=Alert.State.OPEN).order_by("-created_at")[:OPEN_ALERTS])
    for alert in alerts:
        alert.rule_title = rule_title(alert.rule)
    hub = AccountHub(
        account=account,
        mobile=mask_mobile(account.mobile),
        status_words=_status_words(account, event, invitation),
        lifted_by=_lifted_by(account),
        lock=lock,
        lock_words=_lock_words(lock, hold_locks),
        review_words=_review_words(account),
        share_words=share_words(explained_shares([account.pk])[account.pk]),
        devices=devices,
        sessions=sessions,
        access_events=with_purpose(list(events.order_by("-created_at", "-pk")[:RECENT_EVENTS])),
        alerts=alerts,
        passkeys=passkey_list_for_user(user=account),
        passkey_history=passkey_history(user=account, limit=10),
        passkey_required=passkey_required(account),
    )
    _offer_actions(hub, viewer, open_invitation=invitation is not None)
    return hub


def _offer_actions(hub: AccountHub, viewer: User, *, open_invitation: bool) -> None:
    """The account's actions that apply now, and each device's: decided once per action, not per device."""
    account, lock = hub.account, hub.lock
    for action in ACCOUNT_ACTIONS:
        applies = action.applies(account, lock=lock, open_invitation=open_invitation)
        if applies and (offered := _offer(viewer, account, action)) is not None:
            hub.actions.append(offered)
    decided: dict[str, Offered | None] = {}
    for device in hub.devices:
        device.offered = []
        for action in DEVICE_ACTIONS:
            if action.applies(account, lock=lock, open_invitation=open_invitation, device=device):
                if action.name not in decided:
                    decided[action.name] = _offer(viewer, account, action)
                if decided[action.name] is not None:
                    device.offered.append(decided[action.name])
    for row in hub.passkeys:
        row.offered = []
        for action in PASSKEY_ACTIONS:
            if action.applies(account, lock=lock, open_invitation=open_invitation, device=row.passkey):
                if action.name not in decided:
                    decided[action.name] = _offer(viewer, account, action)
                if decided[action.name] is not None:
                    row.offered.append(decided[action.name])
