"""The one place that answers "whom and where may this actor govern".

Every query that lists or loads accounts or facilities for an actor (admin, views, services, jobs)
starts from `governable_users` / `governable_facilities`; nothing re-derives jurisdiction ad hoc.

Rules (ARCHITECTURE.md §2):
- a supervisor governs the health workers of the facilities in their district;
- a state administrator governs the health workers and supervisors of their state;
- a supervisor's own account belongs to the level above (the state administrator); a state
  administrator's account belongs to the superusers who set the system up;
- superusers (set-up only) and the system actor govern every account;
- nobody governs themselves or the system actor; no role below superuser governs a superuser.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import District, Facility, Role, Status, User

# How a facility names each level of jurisdiction it belongs to.
_FACILITY_FIELD = {"facility": "id", "district": "district_id", "state": "district__state_id"}


@dataclass(frozen=True)
class Jurisdiction:
    """One facility, district or state: where an account governs, or reads health records."""

    level: str  # "facility" | "district" | "state"
    pk: int

    def holds(self, facility: Facility) -> bool:
        """Whether `facility` lies inside (for a state, the facility's district must be loaded)."""
        if self.level == "facility":
            return facility.pk == self.pk
        if self.level == "district":
            return facility.district_id == self.pk
        return facility.district.state_id == self.pk

    def q(self, facility_path: str = "") -> Q:
        """A filter on the facility at `facility_path` ("" for facilities themselves, "facility" for records)."""
        field = _FACILITY_FIELD[self.level]
        return Q(**{f"{facility_path}__{field}" if facility_path else field: self.pk})


def _is_all_powerful(actor: User) -> bool:
    return bool(actor.is_system or actor.is_superuser)


def _may_act_at_all(actor) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return actor.is_system or (actor.is_active and actor.status == Status.ACTIVE)


def _governed_jurisdiction(actor: User) -> Jurisdiction | None:
    """A state administrator's state, a supervisor's district; None for every other role."""
    if actor.role == Role.STATE_ADMIN and actor.state_id:
        return Jurisdiction("state", actor.state_id)
    if actor.role == Role.SUPERVISOR and actor.district_id:
        return Jurisdiction("district", actor.district_id)
    return None


def governable_facilities(actor: User) -> QuerySet[Facility]:
    """Return the facilities inside the actor's jurisdiction (none for workers and inactive actors)."""
    facilities = Facility.objects.all()
    if not _may_act_at_all(actor):
        return facilities.none()
    if _is_all_powerful(actor):
        return facilities
    jurisdiction = _governed_jurisdiction(actor)
    return facilities.filter(jurisdiction.q()) if jurisdiction else facilities.none()


def record_jurisdiction(user: User) -> Jurisdiction | None:
    """Where `user` may read health records (SECURITY.md §Record access); None: nowhere (fail closed).

    A worker reads their facility (PRAHARI_RECORD_SCOPE=district: their facility's district), a supervisor
    their district, a state administrator their state; the system actor, superusers without a role's
    jurisdiction and inactive accounts read nothing.
    """
    if user is None or user.is_system or not user.is_active:
        return None
    if user.role == Role.WORKER and user.facility_id:
        if settings.PRAHARI_RECORD_SCOPE == "district":
            return Jurisdiction("district", user.facility.district_id)
        return Jurisdiction("facility", user.facility_id)
    return _governed_jurisdiction(user)


def governable_users(actor: User) -> QuerySet[User]:
    """Return the accounts the actor may govern: inside their jurisdiction, below their level, never themselves."""
    users = User.objects.filter(is_system=False)
    if not _may_act_at_all(actor):
        return users.none()
    if _is_all_powerful(actor):
        scoped = users
    elif actor.role == Role.STATE_ADMIN and actor.state_id:
        scoped = users.filter(is_superuser=False).filter(
            Q(role=Role.WORKER, facility__district__state_id=actor.state_id)
            | Q(role=Role.SUPERVISOR, district__state_id=actor.state_id)
        )
    elif actor.role == Role.SUPERVISOR and actor.district_id:
        scoped = users.filter(is_superuser=False, role=Role.WORKER, facility__district_id=actor.district_id)
    else:
        return users.none()
    return scoped.exclude(pk=actor.pk)


def is_governable_by(actor: User, target: User) -> bool:
    """True when `target` is inside `governable_users(actor)` (one query, no rule written twice)."""
    if target is None or target.pk is None:
        return False
    return governable_users(actor).filter(pk=target.pk).exists()


def governors_of(user: User) -> QuerySet[User]:
    """Return the active accounts that govern `user` directly: the people to notify and to ask for approval.

    A worker's supervisors (their district); a supervisor's state administrators; a state
    administrator's superusers.
    """
    active = User.objects.filter(is_system=False, is_active=True, status=Status.ACTIVE).exclude(pk=user.pk)
    if user.role == Role.WORKER and user.facility_id:
        return active.filter(role=Role.SUPERVISOR, district__facilities=user.facility_id)
    if user.role == Role.SUPERVISOR and user.district_id:
        return active.filter(role=Role.STATE_ADMIN, state__districts=user.district_id)
    return active.filter(is_superuser=True)


def possible_governors(user: User) -> QuerySet[User]:
    """Return the active accounts whose jurisdiction holds `user` (a worker's district supervisors and state
    administrators; a supervisor's state administrators; a state administrator's superusers), nearest first:
    the people a refusal names as able to act, whatever each one's own permissions."""
    active = User.objects.filter(is_system=False, is_active=True, status=Status.ACTIVE).exclude(pk=user.pk)
    if user.role == Role.WORKER and user.facility_id:
        district = Facility.objects.filter(pk=user.facility_id).values("district_id")
        state = Facility.objects.filter(pk=user.facility_id).values("district__state_id")
        near = active.filter(
            Q(role=Role.SUPERVISOR, district_id__in=district) | Q(role=Role.STATE_ADMIN, state_id__in=state)
        )
    elif user.role == Role.SUPERVISOR and user.district_id:
        state = District.objects.filter(pk=user.district_id).values("state_id")
        near = active.filter(role=Role.STATE_ADMIN, state_id__in=state)
    else:
        return active.filter(is_superuser=True).order_by("username")
    return near.filter(is_superuser=False).order_by("-role", "username")  # "supervisor" before "state_admin"


def governed_readers(actor: User) -> tuple[list[int] | None, tuple[str, ...]]:
    """The districts (None: all) and roles whose record views count for `actor`: governable_users' accounts
    as the keys of the console's view tallies (governance.tallies). The actor's own views never count: a
    supervisor's role is not among them, and a state administrator has no district."""
    if not _may_act_at_all(actor):
        return [], ()
    if _is_all_powerful(actor):
        return None, tuple(Role.values)
    if actor.role == Role.STATE_ADMIN and actor.state_id:
        districts = District.objects.filter(state_id=actor.state_id).values_list("pk", flat=True)
        return list(districts), (Role.WORKER, Role.SUPERVISOR)
    if actor.role == Role.SUPERVISOR and actor.district_id:
        return [actor.district_id], (Role.WORKER,)
    return [], ()
