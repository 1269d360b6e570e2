"""Passkeys (WebAuthn, django-otp-webauthn): register, use at sign-in or step-up, list, revoke; the clone rule.

A passkey stands in for the one-time code, never for the password or the approved device. For the roles of
PRAHARI_PASSKEY_REQUIRED_ROLES it is the only second factor once they have one, and past
PRAHARI_PASSKEY_DEADLINE the console refuses them until they register one (docs/passkeys.md).

A passkey is `confirmed` while it may be used; revoking or suspending it clears that and keeps the row, so
the history and the sessions it opened still name it. Every change here writes its AccountEvent
(PASSKEY_REGISTERED, PASSKEY_REVOKED, PASSKEY_SUSPENDED) in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers.exceptions import WebAuthnException

from accounts.exceptions import DomainError, IllegalTransition
from accounts.models import AccountEvent, AccountEventType, Alert, User
from accounts.permissions import can_revoke_device, ensure_may
from accounts.services.alerts import alert_raise
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.reasons import clean_reason
from accounts.services.sessions import sessions_end
from accounts.services.system import system_user
from accounts.webauthn import PrahariWebAuthnHelper, SignCountWentBack

PASSKEY_EVENTS = (
    AccountEventType.PASSKEY_REGISTERED,
    AccountEventType.PASSKEY_REVOKED,
    AccountEventType.PASSKEY_SUSPENDED,
)
CLONE_RULE = "passkey_clone"
NAME_MAX = 60


class PasskeyError(DomainError):
    """A passkey ceremony failed (wrong origin, wrong challenge, unknown or withdrawn passkey, bad data)."""


class PasskeyCloned(PasskeyError):
    """The passkey's sign count went back: it was suspended and an alert raised."""


def _helper() -> PrahariWebAuthnHelper:
    return PrahariWebAuthnHelper(request=None)  # Prahari's relying party comes from settings, not the request


def _parse(data: str | dict) -> dict:
    """The browser's answer as a dict; PasskeyError for anything else."""
    if isinstance(data, dict):
        return data
    try:
        parsed = json.loads(data or "")
    except (TypeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        raise PasskeyError(_("The passkey's answer could not be read. Try again."))
    return parsed


# --- Policy ---------------------------------------------------------------------------------------------------


def passkey_required(user: User) -> bool:
    """True when `user`'s role is one of PRAHARI_PASSKEY_REQUIRED_ROLES."""
    return bool(getattr(user, "role", "")) and user.role in settings.PRAHARI_PASSKEY_REQUIRED_ROLES


def passkey_deadline() -> date | None:
    """PRAHARI_PASSKEY_DEADLINE as a date, or None when unset (no deadline is enforced)."""
    raw = settings.PRAHARI_PASSKEY_DEADLINE
    return date.fromisoformat(raw) if raw else None


def passkey_count(user: User) -> int:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).count()


def codes_refused(user: User) -> bool:
    """True when a passkey is `user`'s only second factor: a required role that has one."""
    return passkey_required(user) and passkey_count(user) > 0


def passkey_overdue(user: User) -> bool:
    """True when `user` must have a passkey, has none, and the deadline has passed (the console refuses them)."""
    deadline = passkey_deadline()
    if deadline is None or not passkey_required(user) or timezone.localdate() <= deadline:
        return False
    return passkey_count(user) == 0


# --- Registration ---------------------------------------------------------------------------------------------


def passkey_registration_begin(*, user: User) -> tuple[dict, dict]:
    """The options for the browser's `navigator.credentials.create` and the state to keep for the answer."""
    return _helper().register_begin(user)


@transaction.atomic
def passkey_registration_complete(*, user: User, state: dict | None, data: str | dict, name: str, ip: str | None):
    """Verify the browser's new credential against `state` and keep it as `user`'s passkey named `name`.

    Records PASSKEY_REGISTERED and notifies the owner ("otp_device_changed", added). Raises PasskeyError when
    the answer is not a valid credential of this site's origin for this challenge.
    """
    if not state:
        raise PasskeyError(_("The passkey request expired. Try again."))
    name = (name or "").strip()[:NAME_MAX] or _("Passkey")
    try:
        passkey = _helper().register_complete(user, state, _parse(data))
    except (WebAuthnException, KeyError, ValueError, TypeError) as error:
        raise PasskeyError(_("The passkey could not be registered: %(why)s") % {"why": _why(error)}) from None
    passkey.name = name
    passkey.save(update_fields=["name"])
    event = event_record(
        type=AccountEventType.PASSKEY_REGISTERED, actor=user, subject=user, ip=ip, data=_event_data(passkey)
    )
    notify(user=user, kind="otp_device_changed", idempotency_key=f"passkey:{event.pk}", context={"action": "added"})
    return passkey


# --- Use (sign-in, step-up) -------------------------------------------------------------------------------------


def passkey_authentication_begin(*, user: User) -> tuple[dict, dict]:
    """The options for `navigator.credentials.get` (only `user`'s usable passkeys) and the state to keep."""
    return _helper().authenticate_begin(user=user, require_user_verification=True)


def passkey_authenticate(*, user: User, state: dict | None, data: str | dict, ip: str | None) -> WebAuthnCredential:
    """Verify an assertion by one of `user`'s usable passkeys; return that passkey, its sign count stored.

    Call it outside any transaction (the sign-in or step-up it proves comes after): the suspension of a cloned
    passkey must commit although the sign-in fails. Raises PasskeyError for a wrong origin, challenge, signature
    or passkey; PasskeyCloned when the sign count went back: that passkey is suspended, the sessions it opened
    end and a `passkey_clone` alert is raised.
    """
    if not state:
        raise PasskeyError(_("The passkey request expired. Try again."))
    try:
        passkey = _helper().authenticate_complete(user, state, _parse(data))
    except SignCountWentBack as clone:
        _suspend_cloned(passkey=clone.credential, seen=clone.seen, known=clone.known, ip=ip)
        raise PasskeyCloned(
            _("This passkey was refused: it looks copied. It has been suspended; your supervisor has been alerted.")
        ) from None
    except (webauthn_errors.OTPWebAuthnApiError, WebAuthnException, KeyError, ValueError, TypeError) as error:
        raise PasskeyError(_("The passkey was not accepted: %(why)s") % {"why": _why(error)}) from None
    passkey.set_last_used_timestamp(commit=False)
    passkey.save(update_fields=["sign_count", "backup_state", "last_used_at"])
    return passkey


def _suspend_cloned(*, passkey: WebAuthnCredential, seen: int, known: int, ip: str | None) -> None:
    """Suspend a passkey whose sign count went back, record PASSKEY_SUSPENDED and raise a high alert.

    Suspended, not only refused: whoever holds the copy could sign in with a higher count next time, and the
    copy and the original cannot be told apart. The owner registers a new passkey after their governor's
    re-approval (docs/passkeys.md).
    """
    with transaction.atomic():
        locked = WebAuthnCredential.objects.select_for_update().get(pk=passkey.pk)
        if locked.confirmed:
            locked.confirmed = False
            locked.save(update_fields=["confirmed"])
        sessions_end(passkeys=[locked.pk])
        data = {**_event_data(locked), "sign_count_seen": seen, "sign_count_known": known}
        event_record(
            type=AccountEventType.PASSKEY_SUSPENDED,
            actor=None,
            subject=locked.user,
            reason="sign count went back",
            ip=ip,
            data=data,
        )
        alert_raise(
            rule=CLONE_RULE,
            severity=Alert.Severity.HIGH,
            subject=locked.user,
            evidence={**data, "ip": ip},
            raised_by=system_user(),
        )


# --- Revocation, lists ------------------------------------------------------------------------------------------


@transaction.atomic
def passkey_revoke(
    *, passkey: WebAuthnCredential, acting_user: User, reason: str, ip: str | None = None
) -> WebAuthnCredential:
    """Withdraw a usable passkey and end every session it opened. The owner or their governor may.

    Records PASSKEY_REVOKED (with the sessions ended) and notifies the owner. Raises NotPermitted or
    IllegalTransition (already withdrawn).
    """
    reason = clean_reason(reason)
    passkey = WebAuthnCredential.objects.select_for_update().select_related("user").get(pk=passkey.pk)
    owner = passkey.user
    ensure_may(acting_user, owner, "approve_device", allowed=can_revoke_device(acting_user, owner))
    if not passkey.confirmed:
        raise IllegalTransition(_("This passkey was already withdrawn."))
    passkey.confirmed = False
    passkey.save(update_fields=["confirmed"])
    ended = sum(sessions_end(passkeys=[passkey.pk]).values())
    event = event_record(
        type=AccountEventType.PASSKEY_REVOKED,
        actor=acting_user,
        subject=owner,
        reason=reason,
        ip=ip,
        data={**_event_data(passkey), "sessions_ended": ended},
    )
    notify(user=owner, kind="otp_device_changed", idempotency_key=f"passkey:{event.pk}", context={"action": "removed"})
    return passkey


@dataclass
class PasskeyRow:
    passkey: WebAuthnCredential
    state: str  # active | revoked | suspended
    changed_at: datetime | None


def passkey_list_for_user(*, user: User) -> list[PasskeyRow]:
    """Every passkey `user` ever registered, newest first, with its state (from its last event)."""
    passkeys = list(WebAuthnCredential.objects.filter(user=user).order_by("-created_at", "-pk"))
    last: dict[int, AccountEvent] = {}
    for event in passkey_history(user=user):  # newest first
        last.setdefault(event.data.get("passkey"), event)
    rows = []
    for passkey in passkeys:
        event = last.get(passkey.pk)
        if passkey.confirmed:
            state = "active"
        else:
            state = "suspended" if event and event.type == AccountEventType.PASSKEY_SUSPENDED else "revoked"
        rows.append(PasskeyRow(passkey, state, event.created_at if event else None))
    return rows


def passkey_history(*, user: User, limit: int = 50):
    """`user`'s passkey events, newest first."""
    return list(AccountEvent.objects.filter(subject=user, type__in=PASSKEY_EVENTS).select_related("actor")[:limit])


def _event_data(passkey: WebAuthnCredential) -> dict:
    return {"passkey": passkey.pk, "name": passkey.name}


def _why(error: Exception) -> str:
    """A short, safe account of a refused ceremony (py_webauthn's messages name what did not match)."""
    text = str(error).strip() or type(error).__name__
    return text[:200]
