"""Onboarding's second half (ARCHITECTURE.md §5): enrolment from the link, then approval or rejection.

- Enrolment from the link sets the password, confirms an OTP device, registers this browser as the
  first (pending) device and records the current data-use undertaking, in one transaction; the
  account is then `pending_approval`.
- Approval activates the account, approves its pending devices and starts its review period;
  rejection closes it. Nobody approves themselves; with PRAHARI_APPROVER_DIFFERS_FROM_INVITER the
  approver must not be the inviter either.

Invitations, the first half, are accounts/services/onboarding.py.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import devices_for_user

from accounts.exceptions import DomainError
from accounts.models import AccountEventType, Invitation, RegisteredDevice, User
from accounts.permissions import ensure_may
from accounts.scoping import governors_of
from accounts.services.devices import device_approve, device_register, device_reject
from accounts.services.lifecycle import status_transition, user_lock
from accounts.services.notifications import notify
from accounts.services.onboarding import invitation_for_token
from accounts.services.reasons import clean_reason
from accounts.services.reviews import review_due_from
from accounts.services.undertakings import undertaking_accept, undertaking_current

# --- Enrolment ------------------------------------------------------------------------------------------


def enrolment_complete(
    *,
    token: str,
    password: str,
    otp_confirm,
    undertaking_version: int,
    device_token: str,
    ip: str | None,
    user_agent: str,
) -> tuple[User, RegisteredDevice]:
    """Finish enrolment from a link: all of it, or nothing but the counted failure of a wrong code.

    `otp_confirm(user) -> bool` confirms the OTP device the person set up on the page (the caller's
    choice of authenticator app or SMS). Raises DomainError for an invalid link, a password the
    validators refuse, a wrong code, or an undertaking that changed while the page was open.
    A wrong code commits what the check recorded (the device's throttle, the OTP_FAILED event), so
    that a valid link does not give unlimited guesses; nothing else is written.
    """
    with transaction.atomic():
        done = _enrolment_write(
            token=token,
            password=password,
            otp_confirm=otp_confirm,
            undertaking_version=undertaking_version,
            device_token=device_token,
            ip=ip,
            user_agent=user_agent,
        )
    if done is None:
        raise DomainError(_("That code is not right, or it has expired."))
    return done


def _enrolment_write(
    *, token, password, otp_confirm, undertaking_version, device_token, ip, user_agent
) -> tuple[User, RegisteredDevice] | None:
    """The enrolment's writes, in the caller's transaction; None (after writing nothing) for a wrong code."""
    invitation = invitation_for_token(token, lock=True)
    if invitation is None:
        raise DomainError(_("This link is not valid: it may have expired, been used or been replaced."))
    user = user_lock(invitation.user)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None
    undertaking = undertaking_current()
    if undertaking is None:  # fail closed: nobody enrols without an undertaking to accept
        raise DomainError(_("Enrolment is not possible right now: no data-use undertaking is published."))
    if undertaking.version != undertaking_version:
        raise DomainError(_("The undertaking was updated while you were reading it: read it again and accept it."))
    if not otp_confirm(user):
        return None  # the transaction commits the check's own record of the failure
    for unused in devices_for_user(user, confirmed=False):  # the authenticator the person did not choose
        unused.delete()
    user.set_password(password)
    user.save(update_fields=["password"])
    invitation.state, invitation.used_at = Invitation.State.USED, timezone.now()
    invitation._history_user, invitation._change_reason = user, "enrolled"
    invitation.save(update_fields=["state", "used_at"])
    undertaking_accept(user=user, undertaking=undertaking, ip=ip)
    device = device_register(user=user, token=device_token, ip=ip, user_agent=user_agent)
    status_transition(
        user,
        transition="enrol",
        acting_user=user,
        reason="enrolled from the invitation link",
        event=AccountEventType.USER_ENROLLED,
        ip=ip,
    )
    for governor in governors_of(user):
        notify(
            user=governor,
            kind="onboarding_pending",
            idempotency_key=f"onboarding_pending:{user.pk}:{governor.pk}:{invitation.pk}",
            context={"username": user.username, "code": device.code},
        )
    return user, device


# --- Approval -------------------------------------------------------------------------------------------


def _approver_check(user: User, acting_user: User) -> None:
    ensure_may(acting_user, user, "approve_user")
    if settings.PRAHARI_APPROVER_DIFFERS_FROM_INVITER:
        inviter = (
            Invitation.objects.filter(user=user).order_by("-created_at").values_list("invited_by", flat=True).first()
        )
        why = _("You may not approve an account you invited: another supervisor must.")
        ensure_may(acting_user, user, "approve_user", allowed=inviter != acting_user.pk, why=why)


@transaction.atomic
def onboarding_approve(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> User:
    """Activate an enrolled account and approve its pending device(s); its first review falls due one period on."""
    reason = clean_reason(reason)
    locked = user_lock(user)
    _approver_check(locked, acting_user)
    now = timezone.now()
    status_transition(
        locked,
        transition="approve",
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.USER_APPROVED,
        ip=ip,
        extra_fields={"review_due_at": review_due_from(locked, now), "review_reminder_days": None},
        now=now,
    )
    for device in RegisteredDevice.objects.filter(user=locked, status=RegisteredDevice.Status.PENDING).order_by("pk")[
        : settings.PRAHARI_MAX_APPROVED_DEVICES
    ]:
        device_approve(device=device, acting_user=acting_user, reason=reason, ip=ip)
    notify(user=locked, kind="account_approved", idempotency_key=f"account_approved:{locked.pk}", context={})
    return locked


@transaction.atomic
def onboarding_reject(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> User:
    """Refuse an enrolled account (and its pending devices). The username stays taken."""
    reason = clean_reason(reason)
    locked = user_lock(user)
    _approver_check(locked, acting_user)
    status_transition(
        locked,
        transition="reject",
        acting_user=acting_user,
        reason=reason,
        event=AccountEventType.USER_REJECTED,
        ip=ip,
        end_sessions=True,
        extra_fields={"is_active": False},
    )
    for device in RegisteredDevice.objects.filter(user=locked, status=RegisteredDevice.Status.PENDING):
        device_reject(device=device, acting_user=acting_user, reason=reason, ip=ip)
    return locked
