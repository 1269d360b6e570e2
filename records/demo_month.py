"""A month of vaccination work for the demo (`seed_demo`): sessions, due lists, and doses given by the workers.

Every demo facility holds vaccination sessions on its kind's weekdays (`SESSION_WEEKDAYS`), from PAST_DAYS
before today to AHEAD_DAYS after it. Each session has a due list (records.Appointment) drawn from the
facility's ordinary records (never a canary: no task ever opens one) among those not due in the REST_DAYS
before it; a few lines are cancelled when booked. A session before today is settled: most of those due came
(attended, and a dose given that day, the next of their vaccine, by one of the facility's workers),
the others did not (missed, and booked again at the facility's first session REBOOK_DAYS later). Sessions
from today on stay scheduled.

Idempotent and deterministic: a session that has a due list is never drawn again, and a run settles only
what is still scheduled before today, so a second run the same day changes nothing and a run a week later
settles the week between. Every draw comes from a generator seeded by what it is about (`demo_rng`), keyed
with the site's secret: the same installation gets the same month, while the source alone does not tell
which records a month leaves out (the canaries among them).
"""

from __future__ import annotations

import random
from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts.models import Facility, Role, Status, User
from accounts.services.demo import DEMO_REASON
from records.models import Appointment, Beneficiary, Dose

PAST_DAYS, AHEAD_DAYS = 37, 14  # the 30 days of demo look-ups, the week of due lists before them, two weeks ahead
SESSION_WEEKDAYS = {Facility.Kind.CHC: (0, 2, 4), Facility.Kind.PHC: (1, 4), Facility.Kind.SUB_CENTRE: (2, 5)}
OTHER_WEEKDAYS = (1, 3)  # any other kind of facility
DUE_LIST_SIZE = {Facility.Kind.CHC: (10, 16), Facility.Kind.PHC: (8, 12), Facility.Kind.SUB_CENTRE: (5, 9)}
OTHER_DUE_LIST_SIZE = (6, 10)
REST_DAYS = 21  # nobody is due twice within three weeks, except a missed dose booked again
REBOOK_DAYS = 7
CANCELLED_PERCENT = 6  # of the lines of a due list, when booked
MISSED_PERCENT = 18  # of those due at a past session (not cancelled); the others came
FIRST_VACCINE = "Td"  # for a record without any dose yet
# Who gives the doses: the facility's workers still in service (a suspended account still vaccinates; it only
# cannot sign in). Where it has none, the vaccinator has no account and the dose no `administered_by`.
VACCINATOR_STATUSES = (Status.ACTIVE, Status.SUSPENDED)
Scheduled = Appointment.Status.SCHEDULED


def demo_rng(*parts: object) -> random.Random:
    """A generator seeded by `parts` under the site's secret: the same draws on every run of one installation."""
    seed = salted_hmac("prahari.records.demo", ":".join(str(p) for p in parts), algorithm="sha256").digest()
    return random.Random(int.from_bytes(seed, "big"))  # noqa: S311 (demo data, not secrets)


def session_days(facility: Facility, start: date, end: date) -> list[date]:
    """The facility's vaccination session days from `start` to `end`, both included."""
    weekdays = SESSION_WEEKDAYS.get(facility.kind, OTHER_WEEKDAYS)
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() in weekdays]


@dataclass
class MonthDemo:
    sessions: int = 0  # due lists drawn by this run
    booked: int = 0  # appointments created, rebookings included
    settled: Counter = field(default_factory=Counter)  # {attended, missed: lines settled by this run}
    doses: int = 0


@dataclass
class _Facility:
    """One facility's month while it is built: its records, its bookings, the next dose of each record."""

    facility: Facility
    today: date
    records: list[int]
    booked: list[Appointment]
    vaccinators: list[int]
    next_dose: dict[int, tuple[str, int]]
    new: list[Appointment] = field(default_factory=list)
    changed: list[Appointment] = field(default_factory=list)
    doses: list[Dose] = field(default_factory=list)

    def book(self, beneficiary_id: int, day: date, status: str = Scheduled) -> Appointment:
        line = Appointment(beneficiary_id=beneficiary_id, facility=self.facility, date=day, status=status)
        self.booked.append(line)
        self.new.append(line)
        return line


@transaction.atomic
def month_build(*, facilities: list[Facility], system: User, today: date | None = None) -> MonthDemo:
    """Draw the missing due lists of the demo facilities' sessions and settle those before `today` (local);
    appointments and doses are written with history by the system actor."""
    today, result = today or timezone.localdate(), MonthDemo()
    for facility in facilities:
        work = _facility_load(facility, today)
        if not work.records:
            continue
        for day in _undrawn_days(work):
            _due_list_draw(work, day)
            result.sessions += 1
        _settle(work)
        _save(work, system, result)
    return result


def _facility_load(facility: Facility, today: date) -> _Facility:
    records = list(
        Beneficiary.objects.filter(facility=facility, is_canary=False).order_by("pk").values_list("pk", flat=True)
    )
    recent = Q(date__gte=today - timedelta(days=PAST_DAYS + REST_DAYS)) | Q(status=Scheduled, date__lt=today)
    booked = list(Appointment.objects.filter(recent, facility=facility).order_by("date", "beneficiary_id"))
    workers = User.objects.filter(role=Role.WORKER, status__in=VACCINATOR_STATUSES, facility=facility).order_by("pk")
    return _Facility(facility, today, records, booked, list(workers.values_list("pk", flat=True)), _next_doses(records))


def _next_doses(records: list[int]) -> dict[int, tuple[str, int]]:
    """{record: (vaccine, dose number)} of the dose each record would get next: the next of its latest vaccine."""
    highest: dict[tuple[int, str], int] = {}
    latest: dict[int, str] = {}
    doses = Dose.objects.filter(beneficiary_id__in=records).order_by("given_on", "dose_number")
    for beneficiary_id, vaccine, number in doses.values_list("beneficiary_id", "vaccine", "dose_number"):
        highest[beneficiary_id, vaccine] = max(number, highest.get((beneficiary_id, vaccine), 0))
        latest[beneficiary_id] = vaccine
    return {pk: (latest[pk], highest[pk, latest[pk]] + 1) for pk in latest}


def _undrawn_days(work: _Facility) -> list[date]:
    start, end = work.today - timedelta(days=PAST_DAYS), work.today + timedelta(days=AHEAD_DAYS)
    drawn = {line.date for line in work.booked}
    return [day for day in session_days(work.facility, start, end) if day not in drawn]


def _due_list_draw(work: _Facility, day: date) -> None:
    """Book a due list for the session on `day`: records not due in the REST_DAYS around it."""
    rng = demo_rng("due list", work.facility.code, day.isoformat())
    resting = {line.beneficiary_id for line in work.booked if abs((line.date - day).days) < REST_DAYS}
    free = [pk for pk in work.records if pk not in resting]
    size = rng.randint(*DUE_LIST_SIZE.get(work.facility.kind, OTHER_DUE_LIST_SIZE))
    for beneficiary_id in sorted(rng.sample(free, min(size, len(free)))):
        cancelled = rng.randrange(100) < CANCELLED_PERCENT
        work.book(beneficiary_id, day, Appointment.Status.CANCELLED if cancelled else Scheduled)


def _settle(work: _Facility) -> None:
    """Settle every scheduled line before today, in date order: a dose given, or missed and booked again."""
    pending = sorted((line for line in work.booked if line.status == Scheduled and line.date < work.today), key=_order)
    while pending:
        line = pending.pop(0)
        rng = demo_rng("settle", work.facility.code, line.date.isoformat(), line.beneficiary_id)
        if rng.randrange(100) < MISSED_PERCENT:
            line.status = Appointment.Status.MISSED
            again = _rebook(work, line)
            if again is not None and again.date < work.today:
                insort(pending, again, key=_order)
        else:
            line.status = Appointment.Status.ATTENDED
            work.doses.append(_dose(work, line, rng))
        if line.pk is not None:
            work.changed.append(line)


def _order(line: Appointment) -> tuple[date, int]:
    return line.date, line.beneficiary_id


def _rebook(work: _Facility, missed: Appointment) -> Appointment | None:
    """Book a missed line again at the first session REBOOK_DAYS or more later, unless one is booked there."""
    start = missed.date + timedelta(days=REBOOK_DAYS)
    days = session_days(work.facility, start, start + timedelta(days=7))
    if not days or days[0] > work.today + timedelta(days=AHEAD_DAYS):
        return None
    if any(line.beneficiary_id == missed.beneficiary_id and line.date == days[0] for line in work.booked):
        return None
    return work.book(missed.beneficiary_id, days[0])


def _dose(work: _Facility, line: Appointment, rng: random.Random) -> Dose:
    vaccine, number = work.next_dose.get(line.beneficiary_id, (FIRST_VACCINE, 1))
    work.next_dose[line.beneficiary_id] = (vaccine, number + 1)
    return Dose(
        beneficiary_id=line.beneficiary_id,
        vaccine=vaccine,
        dose_number=number,
        given_on=line.date,
        facility=work.facility,
        administered_by_id=rng.choice(work.vaccinators) if work.vaccinators else None,
    )


def _save(work: _Facility, system: User, result: MonthDemo) -> None:
    history = {"default_user": system, "default_change_reason": DEMO_REASON}
    if work.new:
        bulk_create_with_history(work.new, Appointment, **history)
    if work.changed:
        bulk_update_with_history(work.changed, Appointment, ["status"], **history)
    if work.doses:
        bulk_create_with_history(work.doses, Dose, **history)
    result.booked += len(work.new)
    settled = (Appointment.Status.ATTENDED, Appointment.Status.MISSED)
    result.settled.update(line.status for line in (*work.new, *work.changed) if line.status in settled)
    result.doses += len(work.doses)
