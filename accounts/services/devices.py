"""Device binding (SECURITY.md §Devices): register a browser as pending, approve, reject or revoke it.

A browser holds a random 256-bit token in a signed cookie; only its SHA-256 is stored. Each
decision is one service that locks the row, checks the actor, saves with history, appends an
AccountEvent and queues the notification; revocation ends the sessions opened on that device.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError, IllegalTransition
from accounts.models import AccountEventType, RegisteredDevice, User
from accounts.permissions import can_revoke_device, ensure_may
from accounts.scoping import governors_of
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.reasons import clean_reason
from accounts.services.sessions import sessions_end

# Easy to read aloud: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
Status = RegisteredDevice.Status


def device_token_new() -> str:
    """A fresh 256-bit browser token (URL-safe text), for the device cookie."""
    return secrets.token_urlsafe(32)


def device_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_find(*, user: User, token: str | None) -> RegisteredDevice | None:
    """The device this browser's token registered for `user`, whatever its status, or None."""
    if not token:
        return None
    # (user, token_hash) is unique: no ORDER BY, which .first() would add from the model's ordering.
    found = list(RegisteredDevice.objects.filter(user=user, token_hash=device_token_hash(token)).order_by()[:1])
    return found[0] if found else None


def _new_code(user: User) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not RegisteredDevice.objects.filter(user=user, code=code).exists():
            return code


def summarise_user_agent(user_agent: str) -> str:
    """A short label a supervisor can read on the phone ("Chrome on Android")."""
    ua = user_agent or ""
    browser = next((b for b in ("Edg", "Firefox", "Chrome", "Safari") if b in ua), "Browser")
    browser = {"Edg": "Edge"}.get(browser, browser)
    system = next((s for s in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if s in ua), "unknown system")
    return f"{browser} on {system}"


@transaction.atomic
def device_register(*, user: User, token: str, ip: str | None, user_agent: str) -> RegisteredDevice:
    """Record this browser as a pending device of `user` and ask their governors to approve it.

    Records history and DEVICE_REGISTERED; notifies each governor (device_pending) with the code.
    """
    device = RegisteredDevice(
        user=user,
        token_hash=device_token_hash(token),
        code=_new_code(user),
        label=summarise_user_agent(user_agent),
        user_agent=(user_agent or "")[:200],
        first_ip=ip,
    )
    device._history_user = user
    device._change_reason = "registered at login"
    device.save()
    event_record(
        type=AccountEventType.DEVICE_REGISTERED,
        actor=user,
        subject=user,
        ip=ip,
        data={"device": device.pk, "code": device.code, "label": device.label},
    )
    for governor in governors_of(user):
        notify(
            user=governor,
            kind="device_pending",
            idempotency_key=f"device_pending:{device.pk}:{governor.pk}",
            context={"username": user.username, "code": device.code},
        )
    return device


def _lock(device: RegisteredDevice) -> RegisteredDevice:
    return RegisteredDevice.objects.select_for_update().select_related("user").get(pk=device.pk)


def _decide(device, *, status, acting_user, reason, event, ip, notice, extra=None) -> RegisteredDevice:
    previous = device.status
    device.status = status
    device.decided_by = acting_user
    device.decided_at = timezone.now()
    device.decision_reason = reason
    device._history_user = acting_user
    device._change_reason = reason
    device.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    event_record(
        type=event,
        actor=acting_user,
        subject=device.user,
        reason=reason,
        ip=ip,
        data={"device": device.pk, "code": device.code, "from": previous, "to": status, **(extra or {})},
    )
    if notice is not None:
        notify(
            user=device.user,
            kind=notice,
            idempotency_key=f"{notice}:{device.pk}:{device.decided_at.isoformat()}",
            context={"code": device.code},
        )
    return device


def _require(device: RegisteredDevice, allowed: set[str], action: str) -> None:
    if device.status not in allowed:
        raise IllegalTransition(
            _("This device cannot be %(action)s: it is %(status)s.")
            % {"action": action, "status": device.get_status_display().lower()}
        )


def _approved_room_check(user: User) -> None:
    """Lock `user` (approvals of one account go one at a time) and raise DomainError when they already
    have PRAHARI_MAX_APPROVED_DEVICES approved devices."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    limit = settings.PRAHARI_MAX_APPROVED_DEVICES
    if RegisteredDevice.objects.filter(user=user, status=Status.APPROVED).count() >= limit:
        raise DomainError(
            _("%(user)s already has %(limit)d approved devices: revoke one before approving another.")
            % {"user": user.username, "limit": limit}
        )


@transaction.atomic
def device_approve(
    *, device: RegisteredDevice, acting_user: User, reason: str, ip: str | None = None
) -> RegisteredDevice:
    """Approve a pending device; at most PRAHARI_MAX_APPROVED_DEVICES approved per user.

    Never one's own device. Records history and DEVICE_APPROVED; notifies the owner.
    Raises NotPermitted, IllegalTransition (not pending) or DomainError (limit reached).
    """
    reason = clean_reason(reason)
    device = _lock(device)
    ensure_may(acting_user, device.user, "approve_device")
    _require(device, {Status.PENDING}, _("approved"))
    _approved_room_check(device.user)
    return _decide(
        device,
        status=Status.APPROVED,
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.DEVICE_APPROVED,
        ip=ip,
        notice="device_approved",
    )


@transaction.atomic
def device_register_approved(*, user: User, token: str, label: str, acting_user: User, reason: str) -> RegisteredDevice:
    """Record a browser as an approved device of `user` from the start (set-up and demo data), by `acting_user`.

    Records history, DEVICE_REGISTERED and DEVICE_APPROVED; sends no notice: nobody has anything to approve, and
    the owner did not ask. Raises NotPermitted, or DomainError past PRAHARI_MAX_APPROVED_DEVICES.
    """
    reason = clean_reason(reason)
    ensure_may(acting_user, user, "approve_device")
    _approved_room_check(user)
    device = RegisteredDevice(user=user, token_hash=device_token_hash(token), code=_new_code(user), label=label)
    device._history_user, device._change_reason = acting_user, reason
    device.save()
    event_record(
        type=AccountEventType.DEVICE_REGISTERED,
        actor=acting_user,
        subject=user,
        reason=reason,
        data={"device": device.pk, "code": device.code, "label": device.label},
    )
    return _decide(
        device,
        status=Status.APPROVED,
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.DEVICE_APPROVED,
        ip=None,
        notice=None,
    )


@transaction.atomic
def device_reject(
    *, device: RegisteredDevice, acting_user: User, reason: str, ip: str | None = None
) -> RegisteredDevice:
    """Reject a pending device. Records history and DEVICE_REJECTED; notifies the owner."""
    reason = clean_reason(reason)
    device = _lock(device)
    ensure_may(acting_user, device.user, "approve_device")
    _require(device, {Status.PENDING}, _("rejected"))
    return _decide(
        device,
        status=Status.REJECTED,
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.DEVICE_REJECTED,
        ip=ip,
        notice="device_rejected",
    )


@transaction.atomic
def device_revoke(
    *, device: RegisteredDevice, acting_user: User, reason: str, ip: str | None = None
) -> RegisteredDevice:
    """Revoke an approved or pending device and end every session opened on it at once.

    The owner may revoke their own device. Records history and DEVICE_REVOKED; notifies the owner.
    """
    reason = clean_reason(reason)
    device = _lock(device)
    ensure_may(acting_user, device.user, "approve_device", allowed=can_revoke_device(acting_user, device.user))
    _require(device, {Status.PENDING, Status.APPROVED}, _("revoked"))
    ended = sum(sessions_end(devices=[device.pk]).values())
    return _decide(
        device,
        status=Status.REVOKED,
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.DEVICE_REVOKED,
        ip=ip,
        notice="device_revoked",
        extra={"sessions_ended": ended},
    )


def devices_revoke_all(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> int:
    """Revoke every pending or approved device of `user` (offboarding); history per device, one event.

    The caller has checked the right to act on `user` and holds its row lock; no notice is sent
    (the account itself is closing). Returns how many devices were revoked.
    """
    devices = list(
        RegisteredDevice.objects.select_for_update().filter(user=user, status__in=[Status.PENDING, Status.APPROVED])
    )
    now = timezone.now()
    for device in devices:
        device.status, device.decided_by, device.decided_at, device.decision_reason = (
            Status.REVOKED,
            acting_user,
            now,
            reason,
        )
        device._history_user, device._change_reason = acting_user, reason
        device.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    if devices:
        event_record(
            type=AccountEventType.DEVICE_REVOKED,
            actor=acting_user,
            subject=user,
            reason=reason,
            ip=ip,
            data={"devices": [d.pk for d in devices], "codes": [d.code for d in devices]},
        )
    return len(devices)


# Left on the account by `device_find_and_touch` when its statement stamped `last_login`: the stamp Django
# makes at every login (`update_last_login`, through accounts/signals.py) is then already made.
LAST_LOGIN_STAMPED = "_prahari_last_login_stamped"


def device_find_and_touch(*, user: User, token: str | None) -> RegisteredDevice | None:
    """`device_find`, and when the device is approved (a login on it goes ahead) stamp it as seen now and
    the account's `last_login` (the last full login) with it.

    One statement: an UPDATE … RETURNING instead of a read and then an update (the ORM's update()
    returns no rows), and the account's UPDATE beside it instead of Django's own a moment later. A
    device of any other status is returned unchanged, and the account is not stamped. No history:
    neither is a governed change.
    """
    if not token:
        return None
    now = timezone.now()
    found = RegisteredDevice.objects.raw(
        "WITH device AS (UPDATE accounts_registereddevice"
        " SET last_seen_at = CASE WHEN status = %s THEN %s ELSE last_seen_at END"
        " WHERE user_id = %s AND token_hash = %s RETURNING *),"
        " account AS (UPDATE accounts_user SET last_login = %s"
        " WHERE id = %s AND EXISTS (SELECT 1 FROM device WHERE status = %s) RETURNING id)"
        " SELECT device.*, EXISTS (SELECT 1 FROM account) AS account_stamped FROM device",
        [Status.APPROVED, now, user.pk, device_token_hash(token), now, user.pk, Status.APPROVED],
    )
    device = next(iter(found), None)
    if device is not None and device.account_stamped:
        user.last_login = now
        setattr(user, LAST_LOGIN_STAMPED, True)
    return device
