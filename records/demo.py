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

`lookups_build` gives the demo's active workers 30 days of ordinary look-ups, written to the access log
through its chain (records.audit), so the console's chart and busiest readers mean something at once.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from faker import Faker
from simple_history.utils import bulk_create_with_history

from accounts.models import Facility, RegisteredDevice, Role, Status, User
from accounts.services.demo import DEMO_BROWSER_LABEL
from records.audit import access_events_append_past
from records.keys import Purpose
from records.models import AccessEvent, Beneficiary, Dose

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


# --- Demo look-ups ----------------------------------------------------------------------------------------

LOOKUP_DAYS = 30
WORKDAY = (time(9, 30), time(17, 0))  # local time: nothing for the night-views rule
LOOKUPS_PER_DAY = (3, 9)  # before each reader's own pace; at most MAX_LOOKUPS_PER_DAY
MAX_LOOKUPS_PER_DAY = 18
PACES = (1.6, 1.0, 0.6, 1.3, 0.8, 1.1)  # how busy each reader is, in turn: the busiest readers differ
PURPOSES = (Purpose.DUE_DOSE,) * 4 + (Purpose.BENEFICIARY_REQUEST, Purpose.CERTIFICATE, Purpose.SESSION_PLANNING)


@dataclass(frozen=True)
class DemoReader:
    user: User
    device_id: int | None
    ip: str
    pace: float


def demo_readers(accounts: list[User]) -> list[DemoReader]:
    """The active workers among `accounts`, each with their demo browser, an address and a pace of work."""
    workers = [u for u in accounts if u.role == Role.WORKER and u.status == Status.ACTIVE and u.facility_id]
    browsers = dict(
        RegisteredDevice.objects.filter(
            user__in=workers, label=DEMO_BROWSER_LABEL, status=RegisteredDevice.Status.APPROVED
        ).values_list("user_id", "pk")
    )
    return [
        DemoReader(user, browsers.get(user.pk), f"10.20.{n // 200}.{n % 200 + 10}", PACES[n % len(PACES)])
        for n, user in enumerate(workers)
    ]


def lookups_build(*, readers: list[DemoReader], days: int = LOOKUP_DAYS, now: datetime | None = None) -> int:
    """Give each reader `days` days of ordinary look-ups of their own facility's records (a search by reference
    id, then the record opened), appended to their access-log chain; return how many events were appended.

    Only days that begin after the reader's latest event are added, so a second run the same day adds nothing;
    today's look-ups stop at `now`. Monday to Saturday, 09:30–17:00 local time, a few to a dozen and a half a
    day at human gaps, never a canary: nothing an anomaly rule flags.
    """
    now, total = now or timezone.now(), 0
    rng = secrets.SystemRandom()
    for reader in readers:
        records = list(
            Beneficiary.objects.filter(facility_id=reader.user.facility_id, is_canary=False).values_list(
                "pk", flat=True
            )
        )
        latest = (
            AccessEvent.objects.filter(actor=reader.user).order_by("-actor_seq").values_list("created_at", flat=True)
        )
        latest = latest.first()
        if not records:
            continue
        events = []
        for day in (timezone.localdate(now) - timedelta(days=n) for n in range(days - 1, -1, -1)):
            opens = timezone.make_aware(datetime.combine(day, WORKDAY[0]))
            if day.weekday() == 6 or (latest is not None and opens <= latest):
                continue
            events += [e for e in _day_lookups(reader, opens, records, rng) if e[0] < now]
        total += access_events_append_past(actor=reader.user, events=events)
    return total


def _day_lookups(reader: DemoReader, opens: datetime, records: list[int], rng) -> list[tuple[datetime, dict]]:
    """One working day of `reader`: each look-up a search by reference id, then the record opened."""
    wanted = min(round(rng.randint(*LOOKUPS_PER_DAY) * reader.pace), MAX_LOOKUPS_PER_DAY)
    span = int((datetime.combine(opens.date(), WORKDAY[1]) - datetime.combine(opens.date(), WORKDAY[0])).seconds)
    starts = sorted(rng.randrange(0, span - 120) for _ in range(wanted))
    events, free_from = [], 0
    where = {"ip_address": reader.ip, "device_id": reader.device_id}
    for start in starts:
        start = max(start, free_from)
        record, purpose, read_for = rng.choice(records), rng.choice(PURPOSES), rng.randint(8, 45)
        found = {"key": "reference_id", "results": 1, "out_of_scope": 0, "records": [record]}
        at = opens + timedelta(seconds=start, microseconds=rng.randrange(10**6))
        events.append(
            (
                at,
                {
                    "action": "search",
                    "outcome": "allowed",
                    "beneficiary_id": record,
                    "purpose": purpose,
                    "detail": found,
                    **where,
                },
            )
        )
        events.append(
            (
                at + timedelta(seconds=read_for),
                {"action": "view", "outcome": "allowed", "beneficiary_id": record, "purpose": purpose, **where},
            )
        )
        free_from = start + read_for + rng.randint(60, 300)
    return events


def sample_reference_ids(user: User, count: int = 3) -> list[str]:
    """Reference ids of `count` ordinary records `user` (a worker) may read: their own facility's."""
    records = Beneficiary.objects.filter(facility_id=user.facility_id, is_canary=False).order_by("reference_id")
    return list(records.values_list("reference_id", flat=True)[:count])
