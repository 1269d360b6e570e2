"""Onboarding (ARCHITECTURE.md §5): invite → enrol → approve or reject, and links that expire. This module
holds the invitations; enrolment and the decision are accounts/services/enrolment.py.

- A supervisor invites a worker of a facility in their district; a state administrator invites
  workers or supervisors of their state. The account is created `invited` with no password, and a
  single-use link (PRAHARI_INVITATION_HOURS, only its SHA-256 stored) goes out by SMS and e-mail.
- Re-sending replaces the open link; revoking closes it (the account stays invited: a later
  re-send reopens it, the invitations job expires it when its last link lapsed).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts.exceptions import DomainError, NotPermitted
from accounts.models import (
    AccountEvent,
    AccountEventType,
    District,
    Facility,
    Invitation,
    Role,
    Status,
    User,
)
from accounts.models.user import mobile_validator
from accounts.permissions import ensure_may, refusal
from accounts.scoping import governable_facilities, is_governable_by
from accounts.services.events import event_record
from accounts.services.lifecycle import status_transition, user_lock
from accounts.services.notifications import notify_many
from accounts.services.reasons import clean_reason
from accounts.services.users import STAFF_ROLES

INVITED_BY_ROLE = {Role.SUPERVISOR: {Role.WORKER}, Role.STATE_ADMIN: {Role.WORKER, Role.SUPERVISOR}}


@dataclass(frozen=True)
class InvitationSent:
    user: User
    invitation: Invitation
    url: str  # the link itself: shown nowhere, sent only to the invited person


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/accounts/enrol/{token}/"


# --- Checks ---------------------------------------------------------------------------------------------


def mobile_clean(mobile: str) -> str:
    """+91 and 10 digits (spaces, a leading 0 or 91 accepted); DomainError otherwise."""
    digits = "".join((mobile or "").split())
    match = re.fullmatch(r"(?:\+91|91|0)?([6-9]\d{9})", digits)
    number = f"+91{match.group(1)}" if match else digits
    try:
        mobile_validator(number)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None
    return number


def _username_base(first_name: str, last_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", f"{first_name}.{last_name}").encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9.]+", "", ascii_name.lower()).strip(".") or "worker"
    return re.sub(r"\.{2,}", ".", base)[:30]


def usernames_for(names: list[tuple[str, str]], taken: set[str] | None = None) -> list[str]:
    """New usernames from (first, last) names: "asha.devi", then "asha.devi2", …; never one in use or ever
    used (deactivated accounts keep theirs), nor one in `taken`. A few queries for any number of names."""
    bases = [_username_base(first, last) for first, last in names]
    used = {t.lower() for t in taken or set()}
    distinct = sorted(set(bases))
    for start in range(0, len(distinct), 500):
        pattern = "^(" + "|".join(re.escape(b) for b in distinct[start : start + 500]) + r")[0-9]*$"
        used |= {u.lower() for u in User.objects.filter(username__iregex=pattern).values_list("username", flat=True)}
    result = []
    for base in bases:
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}{n}"
        used.add(candidate)
        result.append(candidate)
    return result


def username_for(first_name: str, last_name: str) -> str:
    return usernames_for([(first_name, last_name)])[0]


def invitation_place_check(*, acting_user: User, role: str, facility: Facility | None, district: District | None):
    """Raise NotPermitted unless `acting_user` may invite `role` at that place (their jurisdiction), saying
    why and naming who may invite there (`refusal`)."""
    prospect = User(role=role, facility=facility, district=district)  # never saved: whom the refusal is about

    def refuse(why: str):
        raise NotPermitted(refusal(acting_user, prospect, "invite_user", why=why))

    if not acting_user.has_perm("accounts.invite_user"):
        refuse(_("You may not invite accounts."))
    if role not in INVITED_BY_ROLE.get(acting_user.role, set()) and not acting_user.is_superuser:
        refuse(_("You may not invite this role."))
    if role == Role.WORKER:
        if facility is None or not governable_facilities(acting_user).filter(pk=facility.pk).exists():
            refuse(_("You may invite workers only to facilities in your jurisdiction."))
    elif role == Role.SUPERVISOR:
        allowed = acting_user.is_superuser or (district is not None and district.state_id == acting_user.state_id)
        if not allowed:
            refuse(_("You may invite supervisors only to districts of your state."))
    else:
        refuse(_("You may not invite this role."))


def _mobile_free(mobile: str) -> None:
    if User.objects.filter(mobile=mobile).exists():
        raise DomainError(_("Another account already has the mobile number %(mobile)s.") % {"mobile": mobile})


# --- Invitations ----------------------------------------------------------------------------------------


@dataclass
class InvitePlan:
    """One account to invite, checked: a row of a CSV file or the console's form."""

    first_name: str
    last_name: str
    mobile: str
    role: str = Role.WORKER
    facility: Facility | None = None
    district: District | None = None
    email: str = ""
    username: str = ""  # chosen by the file; generated from the name when empty


def _accounts_create(plans: list[InvitePlan], acting_user: User, *, reason: str) -> list[User]:
    """Create the invited accounts of `plans` (history, role group and USER_CREATED each) in a few statements."""
    chosen = {p.username.lower() for p in plans if p.username}
    generated = iter(usernames_for([(p.first_name, p.last_name) for p in plans if not p.username], chosen))
    users = []
    for plan in plans:
        username = plan.username or next(generated)
        user = User(
            username=username,
            role=plan.role,
            status=Status.INVITED,
            facility=plan.facility if plan.role == Role.WORKER else None,
            district=plan.district if plan.role == Role.SUPERVISOR else None,
            first_name=plan.first_name,
            last_name=plan.last_name,
            mobile=plan.mobile,
            email=plan.email,
            is_staff=plan.role in STAFF_ROLES,
        )
        user.set_unusable_password()
        users.append(user)
    users = bulk_create_with_history(
        users, User, batch_size=1000, default_user=acting_user, default_change_reason=reason
    )
    groups = dict(Group.objects.filter(name__in={u.role for u in users}).values_list("name", "pk"))
    membership = User.groups.through
    membership.objects.bulk_create([membership(user_id=u.pk, group_id=groups[u.role]) for u in users], batch_size=1000)
    AccountEvent.objects.bulk_create(
        [
            AccountEvent(
                type=AccountEventType.USER_CREATED,
                actor=acting_user,
                subject=u,
                reason=reason,
                data={"role": u.role, "status": u.status},
            )
            for u in users
        ],
        batch_size=1000,
    )
    return users


def _links_send(users: list[User], acting_user: User, *, base_url: str) -> list[InvitationSent]:
    """Open a new link for each invited account (the caller closed any open one) and send it."""
    now = timezone.now()
    expires = now + timedelta(hours=settings.PRAHARI_INVITATION_HOURS)
    tokens = [secrets.token_urlsafe(32) for _ in users]
    invitations = bulk_create_with_history(
        [
            Invitation(user=u, invited_by=acting_user, token_hash=token_hash(t), created_at=now, expires_at=expires)
            for u, t in zip(users, tokens, strict=True)
        ],
        Invitation,
        batch_size=1000,
        default_user=acting_user,
        default_change_reason="invitation sent",
    )
    AccountEvent.objects.bulk_create(
        [
            AccountEvent(
                type=AccountEventType.INVITATION_SENT,
                actor=acting_user,
                subject=u,
                data={"invitation": i.pk, "expires_at": expires.isoformat()},
            )
            for u, i in zip(users, invitations, strict=True)
        ],
        batch_size=1000,
    )
    sent = [InvitationSent(u, i, _url(base_url, t)) for u, i, t in zip(users, invitations, tokens, strict=True)]
    # The outbox rows hold the links until they are sent; notification_send then erases them.
    notify_many(
        {
            "user": s.user,
            "kind": "invitation",
            "idempotency_key": f"invitation:{s.invitation.pk}",
            "context": {"url": s.url, "hours": settings.PRAHARI_INVITATION_HOURS},
        }
        for s in sent
    )
    return sent


def invitations_send(plans: list[InvitePlan], acting_user: User, *, base_url: str, reason: str) -> list[InvitationSent]:
    """Create the accounts of checked `plans` and send their links: the one writing path of invitations."""
    return _links_send(_accounts_create(plans, acting_user, reason=reason), acting_user, base_url=base_url)


@transaction.atomic
def invitation_create(
    *,
    acting_user: User,
    first_name: str,
    last_name: str,
    mobile: str,
    role: str = Role.WORKER,
    facility: Facility | None = None,
    district: District | None = None,
    email: str = "",
    base_url: str,
    ip: str | None = None,
) -> InvitationSent:
    """Create an invited account and send its enrolment link.

    Raises NotPermitted (role or place outside the inviter's jurisdiction) or DomainError (a name,
    mobile number or e-mail address that is missing, malformed or already taken).
    """
    invitation_place_check(acting_user=acting_user, role=role, facility=facility, district=district)
    first_name, last_name = " ".join((first_name or "").split()), " ".join((last_name or "").split())
    if not first_name:
        raise DomainError(_("A first name is required."))
    mobile = mobile_clean(mobile)
    _mobile_free(mobile)
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise DomainError(_("Enter a valid e-mail address.")) from None
    plan = InvitePlan(first_name, last_name, mobile, role, facility, district, email)
    return invitations_send([plan], acting_user, base_url=base_url, reason="invited")[0]


def _governed_invited(user: User, acting_user: User) -> User:
    locked = user_lock(user)
    allowed = acting_user.is_system or (
        acting_user.has_perm("accounts.invite_user") and is_governable_by(acting_user, locked)
    )
    ensure_may(acting_user, locked, "invite_user", allowed=allowed)
    if locked.status != Status.INVITED:
        raise DomainError(_("This account is no longer waiting for enrolment."))
    return locked


def _close_open(user: User, acting_user: User, state: str, reason: str) -> Invitation | None:
    invitation = Invitation.objects.select_for_update().filter(user=user, state=Invitation.State.OPEN).first()
    if invitation is not None:
        invitation.state, invitation.closed_by = state, acting_user
        invitation._history_user, invitation._change_reason = acting_user, reason
        invitation.save(update_fields=["state", "closed_by"])
    return invitation


@transaction.atomic
def invitation_resend(*, user: User, acting_user: User, base_url: str, ip: str | None = None) -> InvitationSent:
    """Close the open link of an invited account (if any) and send a new one."""
    user = _governed_invited(user, acting_user)
    _close_open(user, acting_user, Invitation.State.REVOKED, "replaced by a new link")
    return _links_send([user], acting_user, base_url=base_url)[0]


@transaction.atomic
def invitation_revoke(*, user: User, acting_user: User, reason: str, ip: str | None = None) -> Invitation:
    """Close the open link of an invited account. Raises DomainError when there is none."""
    reason = clean_reason(reason)
    user = _governed_invited(user, acting_user)
    invitation = _close_open(user, acting_user, Invitation.State.REVOKED, reason)
    if invitation is None:
        raise DomainError(_("This account has no open invitation link."))
    event_record(
        type=AccountEventType.INVITATION_REVOKED,
        actor=acting_user,
        subject=user,
        reason=reason,
        ip=ip,
        data={"invitation": invitation.pk},
    )
    return invitation


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation | None:
    """The open, unexpired invitation of an invited account for `token`, else None (one answer for every failure)."""
    if not token or len(token) > 100:
        return None
    invitations = Invitation.objects.select_related("user")
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=token_hash(token), state=Invitation.State.OPEN).first()
    if invitation is None or invitation.expires_at <= timezone.now() or invitation.user.status != Status.INVITED:
        return None
    return invitation


@transaction.atomic
def invitations_expire(*, acting_user: User, now: datetime | None = None) -> dict[str, int]:
    """Close lapsed links; expire invited accounts that have no open link left. Idempotent."""
    now = now or timezone.now()
    lapsed = list(Invitation.objects.select_for_update().filter(state=Invitation.State.OPEN, expires_at__lte=now))
    for invitation in lapsed:
        invitation.state = Invitation.State.EXPIRED
        invitation._history_user, invitation._change_reason = acting_user, "link expired"
        invitation.save(update_fields=["state"])
    stale = User.objects.filter(status=Status.INVITED, invitations__isnull=False).exclude(
        invitations__state=Invitation.State.OPEN
    )
    expired = 0
    for user in stale.distinct():
        status_transition(
            user_lock(user),
            transition="expire",
            acting_user=acting_user,
            reason="invitation expired",
            event=AccountEventType.USER_EXPIRED,
        )
        expired += 1
    return {"links_expired": len(lapsed), "accounts_expired": expired}
