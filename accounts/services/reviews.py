"""Re-verification, the account's side: when each account is due, and the owner's re-confirmation.

An account's first review falls due one period after its approval; each attestation starts the next
period. Workers are due every PRAHARI_REVERIFY_DAYS_WORKER days, supervisors and state
administrators every PRAHARI_REVERIFY_DAYS_SUPERVISOR (SECURITY.md §Accounts and reviews). After an
attestation (governance/reviews.py) the owner re-confirms at their next login: a fresh code and the
current data-use undertaking (`review_reconfirm`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.exceptions import DomainError, IllegalTransition
from accounts.models import AccountEventType, Role, Status, Undertaking, UndertakingAcceptance, User
from accounts.services.events import event_record
from accounts.services.undertakings import undertaking_accept, undertaking_current, undertaking_current_version


def review_period_days(user: User) -> int:
    if user.role == Role.WORKER:
        return settings.PRAHARI_REVERIFY_DAYS_WORKER
    return settings.PRAHARI_REVERIFY_DAYS_SUPERVISOR


def review_due_from(user: User, start: datetime) -> datetime:
    """When `user`'s next review falls due if a period starts at `start`."""
    return start + timedelta(days=review_period_days(user))


def review_lock(user: User) -> User:
    return User.objects.select_for_update(of=("self",)).select_related("facility__district").get(pk=user.pk)


def reconfirm_required(user: User) -> bool:
    """Whether `user` must re-confirm before anything else: a review asked for it, or a newer undertaking exists.

    The version rule compares the newest version the account accepted (`undertaking_version`) with
    the newest published one (remembered per process, see undertakings.py); an account that never
    accepted any version is brought here by its first attestation (enrolment records the first
    acceptance). No query in the common case.
    """
    if user.reconfirm_pending:
        return True
    if user.undertaking_version is None:
        return False
    current = undertaking_current_version()
    return current is not None and current > user.undertaking_version


@transaction.atomic
def review_reconfirm(
    *, user: User, undertaking: Undertaking, ip: str | None = None, code_from: str = "reconfirm"
) -> UndertakingAcceptance:
    """The owner re-confirmed (the caller verified a fresh code): record their acceptance of `undertaking`.

    `code_from`: where that code was proven, "reconfirm" (on the re-confirmation page) or "login" (the login's
    own code, still fresh), kept in the event. Clears `reconfirm_pending` (history by the owner); records
    UNDERTAKING_ACCEPTED, and REVIEW_RECONFIRMED when a review had asked for it. Raises DomainError when
    `undertaking` is not the current version (a newer one was published meanwhile) or the account is not active.
    """
    locked = review_lock(user)
    if locked.status != Status.ACTIVE:
        raise IllegalTransition(_("Only an active account can re-confirm."))
    current = undertaking_current()
    if current is None or current.pk != undertaking.pk:
        raise DomainError(_("The undertaking has changed since you opened this page. Read it again and accept."))
    acceptance = undertaking_accept(user=locked, undertaking=undertaking, ip=ip)
    if locked.reconfirm_pending:
        locked.reconfirm_pending = False
        locked._history_user = locked
        locked._change_reason = f"re-confirmed at login (undertaking v{undertaking.version})"
        locked.save(update_fields=["reconfirm_pending"])
        event_record(
            type=AccountEventType.REVIEW_RECONFIRMED,
            actor=locked,
            subject=locked,
            ip=ip,
            data={"version": undertaking.version, "code": code_from},
        )
    return acceptance
