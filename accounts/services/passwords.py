"""Passwords a person changes themselves: change with the current one, or reset by a link (SECURITY.md §Passwords).

Each function owns its whole change: it locks the account row, saves, records the AccountEvent (never a
password or token) and queues the notification in the same transaction. A reset never bypasses the
one-time code: the link only sets the password; signing in still needs the code and an approved device.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError
from accounts.models import AccountEvent, AccountEventType, Status, User
from accounts.services.credentials import credentials_lock
from accounts.services.events import event_record
from accounts.services.notifications import notify
from accounts.services.sessions import sessions_end

_MAX_PK = 2**63 - 1


class WrongPassword(DomainError):
    """The current password given to confirm a change is not the account's password."""


def _password_validate(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None


def _password_set(user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])  # no history row for a hash: the event records the change


# --- Passwords --------------------------------------------------------------------------------------


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str, keep_session_key: str | None, ip) -> int:
    """Change `user`'s password after checking the current one; return how many other sessions ended.

    Ends every session of the user except `keep_session_key`, records PASSWORD_CHANGED and notifies
    "password_changed". `user` is updated in place (the caller refreshes its session hash with it).
    Raises WrongPassword for a wrong current password, DomainError when a validator refuses the new one.
    """
    credentials_lock(user)
    if not user.check_password(old_password or ""):
        raise WrongPassword(_("Your current password is not right."))
    _password_validate(new_password, user)
    _password_set(user, new_password)
    ended = sessions_end(users=[user.pk], keep_key=keep_session_key).get(user.pk, 0)
    event = event_record(
        type=AccountEventType.PASSWORD_CHANGED, actor=user, subject=user, ip=ip, data={"sessions_ended": ended}
    )
    notify(user=user, kind="password_changed", idempotency_key=f"password_changed:{event.pk}", context={})
    return ended


def _reset_candidates(username_or_email: str) -> list[User]:
    value = (username_or_email or "").strip()
    if not value:
        return []
    matches = Q(username__iexact=value) | (Q(email__iexact=value) & ~Q(email=""))
    active = User.objects.filter(matches, is_system=False, is_active=True, status=Status.ACTIVE)
    return list(active.order_by("pk")[:5])


def _reset_links_recently_sent(user: User) -> int:
    since = timezone.now() - timedelta(minutes=settings.PRAHARI_SMS_SEND_WINDOW_MINUTES)
    events = AccountEvent.objects.filter(
        subject=user, type=AccountEventType.PASSWORD_RESET_REQUESTED, created_at__gte=since, data__sent=True
    )
    return events.count()


def password_reset_link(*, user: User, base_url: str) -> str:
    """The absolute reset link of `user` (valid PASSWORD_RESET_TIMEOUT, void once the password changes)."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:password-reset-confirm", kwargs={"uidb64": uidb64, "token": token})
    return base_url.rstrip("/") + path


@transaction.atomic
def _reset_link_send(user: User, *, base_url: str, ip) -> None:
    # At most PRAHARI_SMS_SENDS_PER_WINDOW links per window: a stranger cannot flood a worker's phone.
    sent = _reset_links_recently_sent(user) < settings.PRAHARI_SMS_SENDS_PER_WINDOW
    event = event_record(
        type=AccountEventType.PASSWORD_RESET_REQUESTED, actor=None, subject=user, ip=ip, data={"sent": sent}
    )
    if sent:
        notify(
            user=user,
            kind="password_reset_link",
            idempotency_key=f"password_reset_link:{event.pk}",
            context={"url": password_reset_link(user=user, base_url=base_url)},
            channels=("sms", "email"),
        )


def password_reset_request(*, username_or_email: str, base_url: str, ip) -> None:
    """Send a reset link to the active account named by username (any case) or e-mail, if there is one.

    Records PASSWORD_RESET_REQUESTED and notifies "password_reset_link" by SMS and e-mail. Behaves
    the same, and returns None, whether or not an account matched: the caller must not tell.
    """
    for user in _reset_candidates(username_or_email):
        _reset_link_send(user, base_url=base_url, ip=ip)


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """The active account a reset link names, or None when the link is malformed, used or expired."""
    try:
        pk = int(urlsafe_base64_decode(uidb64 or "").decode())
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    if not 0 < pk <= _MAX_PK:
        return None
    user = User.objects.filter(pk=pk, is_system=False, is_active=True, status=Status.ACTIVE).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str, ip) -> int:
    """Set the password of `user` from a reset link (OTP already proven); return how many sessions ended.

    The link stops working at once (Django's token covers the password hash). Ends ALL sessions of
    the user, records PASSWORD_RESET and notifies "password_changed". Raises DomainError when a
    validator refuses the password.
    """
    credentials_lock(user)
    _password_validate(new_password, user)
    _password_set(user, new_password)
    ended = sessions_end(users=[user.pk]).get(user.pk, 0)
    event = event_record(
        type=AccountEventType.PASSWORD_RESET, actor=user, subject=user, ip=ip, data={"sessions_ended": ended}
    )
    notify(user=user, kind="password_changed", idempotency_key=f"password_reset:{event.pk}", context={})
    return ended
