"""Demo data for development and demonstrations (`manage.py seed_demo`).

Builds one state (Uttar Pradesh), three districts with three facilities each, a state administrator,
one supervisor per district, health workers in every status of the account lifecycle and an operator (a
superuser, who keeps the job schedules). Every account is made by `user_create` (the operator by its own
small function) and moved by the lifecycle services as the system actor, so its history and AccountEvents
look like the real thing. Active accounts get an approved demo browser (no notices: nobody has anything
to approve) and a re-verification due date spread over the next weeks. Idempotent: places are found by code
and accounts by username, and whatever already exists is left as it is. Codes have the official shapes but
are illustrative.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from accounts.models import (
    AccountEventType,
    District,
    Facility,
    RegisteredDevice,
    Role,
    State,
    Status,
    SuspensionCause,
    User,
)
from accounts.services.devices import device_find, device_register_approved, device_token_hash, device_token_new
from accounts.services.events import event_record
from accounts.services.lifecycle import user_deactivate, user_suspend
from accounts.services.system import system_user
from accounts.services.users import user_create

DEMO_REASON = "seed_demo"
TOTP_DEVICE_NAME = "demo authenticator"
DEMO_BROWSER_LABEL = "demo browser"
FAKER_SEED = 2023
DEFAULT_WORKERS = 12
OPERATOR_USERNAME = "operator"
OPERATOR_ROLE = "operator"  # what the credentials file and the summary call a superuser (no governed role)
# Days from the first run to each active account's re-verification, in the order of the plans (the state
# administrator, the supervisors, then the active workers): spread over the next weeks, with one worker of each
# district due within 14 days, so reminders, each dashboard's "due" list and the home page's date show something
# from the first minute.
REVIEW_DUE_DAYS = (20, 33, 26, 40, 10, 6, 13, 27, 17, 44, 23, 37)

# The first workers show every status of the lifecycle (ARCHITECTURE.md §3); all later ones are active.
WORKER_STATUSES = (
    Status.ACTIVE,
    Status.PENDING_APPROVAL,
    Status.INVITED,
    Status.SUSPENDED,
    Status.DEACTIVATED,
    Status.REJECTED,
    Status.EXPIRED,
)
# Workers with these statuses get a password (and a TOTP device); supervisors and the state admin always do.
STATUSES_WITH_PASSWORD = frozenset({Status.ACTIVE, Status.SUSPENDED})


@dataclass(frozen=True)
class FacilitySpec:
    code: str  # 10-digit NIN
    name: str
    name_hi: str
    kind: str


@dataclass(frozen=True)
class DistrictSpec:
    code: str  # LGD district code
    name: str
    name_hi: str
    facilities: tuple[FacilitySpec, ...]

    @property
    def slug(self) -> str:
        return self.name.lower()


STATE_CODE, STATE_NAME, STATE_NAME_HI, STATE_SLUG = "09", "Uttar Pradesh", "उत्तर प्रदेश", "up"
DISTRICTS = (
    DistrictSpec(
        "162",
        "Lucknow",
        "लखनऊ",
        (
            FacilitySpec("4916200101", "CHC Chinhat", "सामुदायिक स्वास्थ्य केंद्र चिनहट", Facility.Kind.CHC),
            FacilitySpec("4916200214", "PHC Mohanlalganj", "प्राथमिक स्वास्थ्य केंद्र मोहनलालगंज", Facility.Kind.PHC),
            FacilitySpec("4916200357", "Sub-centre Kakori", "उपकेंद्र काकोरी", Facility.Kind.SUB_CENTRE),
        ),
    ),
    DistrictSpec(
        "190",
        "Varanasi",
        "वाराणसी",
        (
            FacilitySpec("4919000108", "CHC Pindra", "सामुदायिक स्वास्थ्य केंद्र पिंडरा", Facility.Kind.CHC),
            FacilitySpec("4919000231", "PHC Cholapur", "प्राथमिक स्वास्थ्य केंद्र चोलापुर", Facility.Kind.PHC),
            FacilitySpec("4919000376", "Sub-centre Sevapuri", "उपकेंद्र सेवापुरी", Facility.Kind.SUB_CENTRE),
        ),
    ),
    DistrictSpec(
        "148",
        "Gorakhpur",
        "गोरखपुर",
        (
            FacilitySpec("4914800115", "CHC Sahjanwa", "सामुदायिक स्वास्थ्य केंद्र सहजनवा", Facility.Kind.CHC),
            FacilitySpec("4914800242", "PHC Pipraich", "प्राथमिक स्वास्थ्य केंद्र पिपराइच", Facility.Kind.PHC),
            FacilitySpec("4914800389", "Sub-centre Khorabar", "उपकेंद्र खोराबार", Facility.Kind.SUB_CENTRE),
        ),
    ),
)


@dataclass(frozen=True)
class AccountPlan:
    """One demo account as it should first be made."""

    username: str
    role: Role | str  # "" for the operator (a superuser)
    status: Status
    serial: int  # distinguishes the mobile number and the name
    facility: Facility | None = None
    district: District | None = None
    state: State | None = None


@dataclass
class DemoResult:
    accounts: list[User] = field(default_factory=list)
    created: int = 0
    passwords_reset: int = 0  # existing accounts given a new password for the credentials file
    credentials: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, Counter]:
        """Return {role: Counter(status)} over the demo accounts."""
        counts: dict[str, Counter] = {role: Counter() for role in (*Role.values, OPERATOR_ROLE)}
        for user in self.accounts:
            counts[user.role or OPERATOR_ROLE][user.status] += 1
        return counts


def demo_build(
    *,
    workers: int = DEFAULT_WORKERS,
    collect_credentials: bool = False,
    known_passwords: Mapping[str, dict] | None = None,
) -> DemoResult:
    """Build (or complete) the demo jurisdiction and accounts; call it inside one transaction.

    New accounts get history and USER_CREATED (and USER_SUSPENDED/USER_DEACTIVATED) by the system actor.
    Every account with a password gets one confirmed TOTP device. With `collect_credentials`, the result
    lists each such account's password: a password from `known_passwords` that still checks is kept;
    otherwise a new one is set and PASSWORD_CHANGED recorded. Without it, existing passwords stay as they are.
    """
    system = system_user()
    known_passwords = known_passwords or {}
    fake = Faker("en_IN")
    result = DemoResult()
    due_nth = 0
    for plan in _account_plans(_places_ensure(system), workers):
        user, created, password = _account_ensure(plan, system, fake)
        result.accounts.append(user)
        result.created += created
        if not user.has_usable_password():
            continue
        if user.status == Status.ACTIVE and not user.is_superuser:
            _review_due_ensure(user, system, due_nth)
            due_nth += 1
        device = _totp_ensure(user)
        known = known_passwords.get(user.username)
        known = known if isinstance(known, dict) else {"password": known}
        browser_token = (
            _browser_ensure(user, system, known.get("device_token")) if user.status == Status.ACTIVE else None
        )
        if not collect_credentials:
            continue
        if password is None:
            password, reset = _password_recall_or_reset(user, known.get("password"), system)
            result.passwords_reset += reset
        result.credentials.append(credentials_entry(user, password, device, browser_token))
    return result


def credentials_entry(user: User, password: str, device: TOTPDevice, browser_token: str | None) -> dict:
    """One account's line of the credentials file: how to sign in as it, and what it is now."""
    return {
        "username": user.username,
        "password": password,
        "role": user.role or OPERATOR_ROLE,
        "status": user.status,
        "facility": user.facility.code if user.facility_id else None,
        "totp_key": device.key,  # hex, as django-otp stores it (CONTRACT.md)
        "totp_key_base32": base64.b32encode(device.bin_key).decode(),  # what authenticator apps take
        "otpauth_uri": device.config_url,  # the same as a QR code: paste it into an app, or make a QR of it
        "device_token": browser_token,
    }


def password_generate(user: User) -> str:
    """Return a random password that passes AUTH_PASSWORD_VALIDATORS for `user`."""
    for _attempt in range(20):
        candidate = secrets.token_urlsafe(12)  # 96 random bits, 16 characters
        try:
            validate_password(candidate, user)
        except ValidationError:
            continue
        return candidate
    raise RuntimeError("Could not generate a password that passes the password validators.")


def _places_ensure(system: User) -> tuple[State, list[tuple[DistrictSpec, District, list[Facility]]]]:
    state = _place_ensure(State, system, code=STATE_CODE, name=STATE_NAME, name_hi=STATE_NAME_HI)
    districts = []
    for spec in DISTRICTS:
        district = _place_ensure(District, system, code=spec.code, state=state, name=spec.name, name_hi=spec.name_hi)
        facilities = [
            _place_ensure(Facility, system, code=f.code, district=district, name=f.name, name_hi=f.name_hi, kind=f.kind)
            for f in spec.facilities
        ]
        districts.append((spec, district, facilities))
    return state, districts


def _place_ensure(model, system: User, *, code: str, **fields):
    """Return the place with `code`, creating it (with history by the system actor) if missing."""
    place = model.objects.filter(code=code).first()
    if place is None:
        place = model(code=code, **fields)
        place.full_clean()
        place._history_user = system
        place._change_reason = DEMO_REASON
        place.save()
    return place


def _account_plans(places, workers: int) -> list[AccountPlan]:
    state, districts = places
    plans = [
        AccountPlan(f"sa.{STATE_SLUG}", Role.STATE_ADMIN, Status.ACTIVE, serial=1, state=state),
        AccountPlan(OPERATOR_USERNAME, "", Status.ACTIVE, serial=2),
    ]
    for n, (spec, district, _facilities) in enumerate(districts, start=1):
        plans.append(AccountPlan(f"dio.{spec.slug}", Role.SUPERVISOR, Status.ACTIVE, serial=10 + n, district=district))
    # Workers go round the districts, then round each district's facilities: w.lucknow.01, w.varanasi.01, …
    for i in range(workers):
        spec, _district, facilities = districts[i % len(districts)]
        nth_in_district = i // len(districts)
        status = WORKER_STATUSES[i] if i < len(WORKER_STATUSES) else Status.ACTIVE
        plans.append(
            AccountPlan(
                f"w.{spec.slug}.{nth_in_district + 1:02d}",
                Role.WORKER,
                status,
                serial=100 + i,
                facility=facilities[nth_in_district % len(facilities)],
            )
        )
    return plans


def _account_ensure(plan: AccountPlan, system: User, fake: Faker) -> tuple[User, bool, str | None]:
    """Return (user, created, new password or None); create the account as planned only if the username is free."""
    existing = User.objects.select_related("facility").filter(username__iexact=plan.username).first()
    if existing is not None:
        return existing, False, None
    places = {"facility": plan.facility, "district": plan.district, "state": plan.state}
    profile = _profile(plan, fake)
    password = None
    if plan.role != Role.WORKER or plan.status in STATUSES_WITH_PASSWORD:
        password = password_generate(User(username=plan.username, **places, **profile))
    if not plan.role:
        return _operator_create(plan.username, password, system, profile), True, password
    # Suspended and deactivated accounts were active once: make them so, then move them by the services.
    first_status = Status.ACTIVE if plan.status in (Status.SUSPENDED, Status.DEACTIVATED) else plan.status
    user = user_create(
        username=plan.username,
        role=plan.role,
        acting_user=system,
        reason=DEMO_REASON,
        status=first_status,
        password=password,
        **places,
        **profile,
    )
    if plan.status == Status.SUSPENDED:
        reason = f"{DEMO_REASON}: no login for 90 days"
        user = user_suspend(user=user, acting_user=system, reason=reason, cause=SuspensionCause.DORMANT)
    elif plan.status == Status.DEACTIVATED:
        user = user_deactivate(user=user, acting_user=system, reason=f"{DEMO_REASON}: left the service")
    return user, True, password


def _operator_create(username: str, password: str, system: User, profile: dict) -> User:
    """The operator: a superuser (set-up account, no governed role) who may open the job schedules."""
    user = User(username=username, role="", status=Status.ACTIVE, is_staff=True, is_superuser=True, **profile)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user._history_user, user._change_reason = system, DEMO_REASON
    user.save()
    event_record(
        type=AccountEventType.USER_CREATED,
        actor=system,
        subject=user,
        reason=DEMO_REASON,
        data={"role": OPERATOR_ROLE, "status": user.status},
    )
    return user


def _review_due_ensure(user: User, system: User, nth: int) -> None:
    """Give an account without one a re-verification due date some weeks ahead (history by the system)."""
    if user.review_due_at is not None:
        return
    user.review_due_at = timezone.now() + timedelta(days=REVIEW_DUE_DAYS[nth % len(REVIEW_DUE_DAYS)])
    user._history_user, user._change_reason = system, f"{DEMO_REASON}: re-verification due"
    user.save(update_fields=["review_due_at"])


def _profile(plan: AccountPlan, fake: Faker) -> dict:
    """Return a deterministic name, mobile and language for the planned account (same on every run)."""
    fake.seed_instance(f"{FAKER_SEED}:{plan.username}")
    female = plan.role == Role.WORKER and plan.serial % 3 != 0  # most ASHAs and ANMs are women
    mobile = f"+9194150{plan.serial:05d}"
    if User.objects.filter(mobile=mobile).exists():
        mobile = ""  # a hand-made account already holds it; a demo account does fine without one
    return {
        "first_name": fake.first_name_female() if female else fake.first_name_male(),
        "last_name": fake.last_name(),
        "email": f"{plan.username}@demo.invalid",
        "mobile": mobile,
        "preferred_language": "en" if plan.role != Role.WORKER or plan.serial % 3 == 0 else "hi",
    }


def _browser_ensure(user: User, system: User, known_token: str | None) -> str:
    """Return the token of the user's approved demo browser, recording one approved from the start (by the system,
    no notices) if needed. A token from the credentials file is reused while it still matches an approved device.
    """
    if known_token:
        device = device_find(user=user, token=known_token)
        if device is not None and device.status == RegisteredDevice.Status.APPROVED:
            return known_token
    token = device_token_new()
    demo = RegisteredDevice.objects.filter(user=user, label=DEMO_BROWSER_LABEL, status=RegisteredDevice.Status.APPROVED)
    if demo.exists():
        demo.update(token_hash=device_token_hash(token))  # the old token is unknown: give the demo browser a new one
        return token
    device_register_approved(
        user=user, token=token, label=DEMO_BROWSER_LABEL, acting_user=system, reason=f"{DEMO_REASON}: demo browser"
    )
    return token


def _totp_ensure(user: User) -> TOTPDevice:
    """Return the user's confirmed demo TOTP device, creating it (random 160-bit hex key) if missing."""
    device = TOTPDevice.objects.filter(user=user, name=TOTP_DEVICE_NAME).order_by("pk").first()
    if device is None:
        return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=True)
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def _password_recall_or_reset(user: User, known: str | None, system: User) -> tuple[str, bool]:
    """Return (password, whether it was reset): `known` if it still checks, else a new one, set and recorded."""
    if known and user.check_password(known):
        return known, False
    password = password_generate(user)
    user.set_password(password)
    user.save(update_fields=["password"])
    event_record(
        type=AccountEventType.PASSWORD_CHANGED,
        actor=system,
        subject=user,
        reason=f"{DEMO_REASON}: new demo password for the credentials file",
    )
    return password, True
