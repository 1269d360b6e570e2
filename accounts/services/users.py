"""Creating accounts with their role: group membership, staff flag and jurisdiction set together."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import AccountEventType, District, Facility, Role, State, Status, User
from accounts.services.events import event_record

# Console access (the OTP-only admin) belongs to the governing roles only.
STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.STATE_ADMIN})


@transaction.atomic
def user_create(
    *,
    username: str,
    role: Role,
    acting_user: User,
    reason: str,
    facility: Facility | None = None,
    district: District | None = None,
    state: State | None = None,
    status: Status = Status.INVITED,
    password: str | None = None,
    **profile,
) -> User:
    """Create an account in `role` (group membership and console access follow the role).

    Records history and USER_CREATED. The caller has validated the password, if any; without one
    the account has an unusable password until enrolment sets it.
    """
    user = User(
        username=username,
        role=role,
        facility=facility,
        district=district,
        state=state,
        status=status,
        is_staff=role in STAFF_ROLES,
        **profile,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user._history_user = acting_user
    user._change_reason = reason
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    event_record(
        type=AccountEventType.USER_CREATED,
        actor=acting_user,
        subject=user,
        reason=reason,
        data={"role": role, "status": status},
    )
    return user


def user_language_set(*, user: User, language: str) -> User:
    """Remember the language `user` chose (pages after their next login, and their messages, use it).

    A value outside settings.LANGUAGES is ignored. History names the user as the one who chose.
    """
    from django.conf import settings

    if language not in dict(settings.LANGUAGES) or language == user.preferred_language:
        return user
    user.preferred_language = language
    user._history_user, user._change_reason = user, "language chosen"
    user.save(update_fields=["preferred_language"])
    return user
