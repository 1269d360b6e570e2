"""Synthetic beneficiaries for the demo (`manage.py seed_demo --beneficiaries N`): realistic, never real.

Names, years of birth and identity numbers come from Faker's Indian locale; each record gets one to
three doses at its own facility. Every demo district also gets CANARIES_PER_DISTRICT canary records
that look like any other. Idempotent: `count` is the number of ordinary demo records wanted in all;
only the missing ones are added, and canaries are added only where a district has fewer than its share
(existing records, canaries included, are never changed).

Everything is drawn from the operating system's generator (random.SystemRandom), not from a fixed seed:
data anyone could recompute from the source would tell which ids are canaries (those the recomputation
does not produce), and so would any fixed place for them. Canaries get their reference ids, facilities,
contents and row order from the same draws as every other record, so their place among their district's
ids is uniformly random.

The month of work these records are due for is records/demo_month.py; the workers' look-ups of them,
records/demo_lookups.py.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from faker import Faker
from simple_history.utils import bulk_create_with_history

from accounts.models import Facility, User
from records.models import Beneficiary, Dose

CANARIES_PER_DISTRICT = 2
BATCH = 2000
# (vaccine, doses in its schedule, days between doses)
VACCINES = (("Covishield", 3, 84), ("Covaxin", 3, 28), ("Corbevax", 2, 28), ("Td", 2, 28), ("Hepatitis B", 3, 30))
FIRST_DOSE_FROM, FIRST_DOSE_DAYS = date(2021, 3, 1), 900


@dataclass
class BeneficiaryDemo:
    created: int = 0
    canaries_created: int = 0
    total: int = 0


def _id_document(fake: Faker, rng: random.Random) -> tuple[str, str]:
    kind = rng.choices(list(Beneficiary.IdType), weights=[70, 12, 8, 5, 5])[0]
    if kind == Beneficiary.IdType.AADHAAR:
        return kind, fake.aadhaar_id()
    if kind == Beneficiary.IdType.VOTER:
        return kind, fake.bothify("???#######").upper()
    if kind == Beneficiary.IdType.PAN:
        return kind, fake.bothify("?????####?").upper()
    if kind == Beneficiary.IdType.PASSPORT:
        return kind, fake.bothify("?#######").upper()
    return kind, fake.bothify("UP##-##########").upper()


def _person(fake: Faker, rng: random.Random, reference_id: str, facility: Facility, canary: bool) -> Beneficiary:
    gender = rng.choices(["F", "M", "O"], weights=[49, 50, 1])[0]
    first = fake.first_name_female() if gender == "F" else fake.first_name_male()
    id_type, id_number = _id_document(fake, rng)
    return Beneficiary(
        reference_id=reference_id,
        name=f"{first} {fake.last_name()}",
        year_of_birth=rng.randint(1940, 2008),
        gender=gender,
        id_type=id_type,
        id_number=id_number,
        mobile=f"+91{rng.choice('6789')}{rng.randrange(10**8, 10**9)}",
        facility=facility,
        is_canary=canary,
    )


def _doses(record: Beneficiary, rng: random.Random) -> list[Dose]:
    vaccine, schedule, gap = rng.choice(VACCINES)
    first = FIRST_DOSE_FROM + timedelta(days=rng.randrange(FIRST_DOSE_DAYS))
    return [
        Dose(
            beneficiary=record,
            vaccine=vaccine,
            dose_number=n,
            given_on=first + timedelta(days=(n - 1) * (gap + rng.randrange(0, 14))),
            facility=record.facility,
        )
        for n in range(1, rng.randint(1, schedule) + 1)
    ]


def _reference_ids(rng: random.Random, count: int) -> list[str]:
    """`count` fresh 14-digit reference ids, none already taken."""
    ids: set[str] = set()
    while len(ids) < count:
        wanted = count - len(ids)
        candidates = {str(rng.randrange(10**13, 10**14)) for _ in range(wanted + 16)} - ids
        taken = set(Beneficiary.objects.filter(reference_id__in=candidates).values_list("reference_id", flat=True))
        ids.update(list(candidates - taken)[:wanted])
    return sorted(ids)


def _create(plans: list[tuple[Facility, bool]], fake: Faker, rng: random.Random, system: User) -> None:
    for start in range(0, len(plans), BATCH):
        batch = plans[start : start + BATCH]
        people = [
            _person(fake, rng, reference_id, facility, canary)
            for reference_id, (facility, canary) in zip(_reference_ids(rng, len(batch)), batch, strict=True)
        ]
        people = bulk_create_with_history(people, Beneficiary, default_user=system, default_change_reason="seed_demo")
        Dose.objects.bulk_create([dose for person in people for dose in _doses(person, rng)])


@transaction.atomic
def beneficiaries_build(*, count: int, facilities: list[Facility], system: User) -> BeneficiaryDemo:
    """Bring the demo facilities to `count` ordinary records in all (spread evenly) plus their canaries."""
    result = BeneficiaryDemo()
    if not facilities:
        return result
    existing = Beneficiary.objects.filter(facility__in=facilities)
    have = existing.filter(is_canary=False).count()
    rng = secrets.SystemRandom()
    fake = Faker("en_IN")
    fake.random = rng
    plans = [(facilities[i % len(facilities)], False) for i in range(have, max(count, have))]
    by_district: dict[int, list[Facility]] = {}
    for facility in facilities:
        by_district.setdefault(facility.district_id, []).append(facility)
    for district_id, places in by_district.items():
        canaries = existing.filter(is_canary=True, facility__district_id=district_id).count()
        plans += [(rng.choice(places), True) for _ in range(CANARIES_PER_DISTRICT - canaries)]
    rng.shuffle(plans)  # canaries anywhere in the batch: reference ids and primary keys alike
    _create(plans, fake, rng, system)
    result.created = sum(not canary for _f, canary in plans)
    result.canaries_created = len(plans) - result.created
    result.total = existing.count()
    return result


def sample_reference_ids(user: User, count: int = 3) -> list[str]:
    """Reference ids of `count` ordinary records `user` (a worker) may read: their own facility's."""
    records = Beneficiary.objects.filter(facility_id=user.facility_id, is_canary=False).order_by("reference_id")
    return list(records.values_list("reference_id", flat=True)[:count])
