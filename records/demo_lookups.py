"""30 days of the demo workers' look-ups (`seed_demo`), written to the access log through its chain
(records.audit), so that the console's chart, busiest readers and explanations mean something at once.

Honest work follows the month of records/demo_month.py: a worker looks up the records on their facility's
due lists around the session days (due dose, session planning), certificates of doses given in the last
month, now and then an adverse event after a recent dose, and a few records of beneficiaries who asked in
person: the consent step's events as records/consent_gate.py logs them (code sent, record opened), with the
consent the demo gives directly (the demo cannot receive SMS). A few look-ups fit none of these (someone
walks in on the wrong day): honest, and left unexplained.

One demo account, SLOW_EXTRACTOR, does no such work: its last EXTRACTOR_DAYS working days hold about 250
views a day of random records of its facility, at a human pace, in working hours, with purposes that
nothing explains (records/explain.py says which), and no search before them: under the daily budget and
every older anomaly rule (it has no busy days of its own to compare with); the unexplained_views rules
catch it when seed_demo runs the anomalies job.

Every draw comes from records.demo_month's keyed generator, per reader and day: a second run the same day
adds nothing, as only days that begin after a reader's latest event are added.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts.models import RegisteredDevice, Role, Status, User
from accounts.services.demo import DEMO_BROWSER_LABEL, DEMO_REASON
from accounts.services.system import system_user
from records.audit import access_events_append_past
from records.consent import consent_day_end
from records.consent_gate import GIVEN, STANDING
from records.demo_month import demo_rng
from records.explain import explanation_for
from records.keys import Purpose
from records.models import AccessEvent, Appointment, Beneficiary, Consent, Dose

Outcome = AccessEvent.Outcome
LOOKUP_DAYS = 30
WORKDAY = (time(9, 30), time(17, 0))  # local time: nothing for the night-views rule
LOOKUPS_PER_DAY = (3, 9)  # before each reader's own pace; at most MAX_LOOKUPS_PER_DAY
MAX_LOOKUPS_PER_DAY = 18
PACES = (1.6, 1.0, 0.6, 1.3, 0.8, 1.1)  # how busy each reader is, in turn: the busiest readers differ
# What an honest look-up is for, with its weight (tasks without a record that day fall back to the due lists).
TASKS = {"due": 46, "planning": 18, "certificate": 22, "adverse": 3, "asked": 8, "stray": 3}
PURPOSE_OF = {
    "due": Purpose.DUE_DOSE,
    "planning": Purpose.SESSION_PLANNING,
    "certificate": Purpose.CERTIFICATE,
    "adverse": Purpose.ADVERSE_EVENT,
    "asked": Purpose.BENEFICIARY_REQUEST,
    "stray": Purpose.DUE_DOSE,
}
SLOW_EXTRACTOR = "w.lucknow.04"  # named in the credentials file only (`"role_in_demo"`), never in the banner
SLOW_EXTRACTOR_ROLE = "slow extractor"
EXTRACTOR_DAYS = 5  # working days before today: under the baseline rule's 7 days of history
EXTRACTOR_VIEWS = (240, 260)  # a day; the daily budget is 300 look-ups
EXTRACTOR_GAP_SECONDS = (40, 150)  # uneven gaps, as a person clicks: nothing for the cadence or burst rules
# Tried in a random order for each record, the first that nothing explains taken ("asked in person" would need
# the beneficiary's code: records/consent_gate.py).
EXTRACTOR_PURPOSES = (Purpose.SESSION_PLANNING, Purpose.ADVERSE_EVENT, Purpose.DUE_DOSE, Purpose.CERTIFICATE)


@dataclass(frozen=True)
class DemoReader:
    user: User
    device_id: int | None
    ip: str
    pace: float


@dataclass
class _Work:
    """What a facility's records were due for, by day: the reader's honest reasons to look one up."""

    records: list[int]
    mobiles: dict[int, str]
    due: dict[date, list[int]]  # session day: records due (not cancelled)
    dosed: dict[date, list[int]]  # day: records given a dose at the facility

    def around(self, table: dict[date, list[int]], day: date, before: int, after: int) -> list[int]:
        days = (day + timedelta(days=n) for n in range(-before, after + 1))
        return sorted({pk for d in days for pk in table.get(d, ())})


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
    """Give each reader `days` days of look-ups of their own facility's records (SLOW_EXTRACTOR: its last
    EXTRACTOR_DAYS), appended to their access-log chain, with the consents of those asked in person (by the
    system actor); return how many events were appended.

    Only days that begin after the reader's latest event are added, so a second run the same day adds nothing;
    today's look-ups stop at `now`. Monday to Saturday, 09:30–17:00 local time, never a canary.
    """
    now, total, works = now or timezone.now(), 0, {}
    for reader in readers:
        facility_id = reader.user.facility_id
        work = works[facility_id] = works.get(facility_id) or _work_load(facility_id, timezone.localdate(now))
        if not work.records:
            continue
        latest = AccessEvent.objects.filter(actor=reader.user).order_by("-actor_seq")
        latest = latest.values_list("created_at", flat=True).first()
        extractor = reader.user.username == SLOW_EXTRACTOR
        events, consents = [], []
        for day in _working_days(now, EXTRACTOR_DAYS if extractor else days, skip_today=extractor):
            opens = timezone.make_aware(datetime.combine(day, WORKDAY[0]))
            if latest is not None and opens <= latest:
                continue
            rng = demo_rng("look-ups", reader.user.username, day.isoformat())
            if extractor:
                events += _extraction_day(reader, opens, work, rng)
            else:
                events += [e for e in _day_lookups(reader, opens, work, rng, consents) if e[0] < now]
        total += access_events_append_past(actor=reader.user, events=events)
        consents = [c for c in consents if c.given_at < now]
        if consents:
            bulk_create_with_history(consents, Consent, default_user=system_user(), default_change_reason=DEMO_REASON)
    return total


def _working_days(now: datetime, days: int, *, skip_today: bool) -> list[date]:
    """The last `days` days up to today (Sundays off), oldest first; SKIP_TODAY: `days` working days before it."""
    today = timezone.localdate(now)
    if not skip_today:
        return [d for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1)) if d.weekday() != 6]
    found, day = [], today
    while len(found) < days:
        day -= timedelta(days=1)
        if day.weekday() != 6:
            found.insert(0, day)
    return found


def _work_load(facility_id: int, today: date) -> _Work:
    start = today - timedelta(days=LOOKUP_DAYS + 31)
    records = Beneficiary.objects.filter(facility_id=facility_id, is_canary=False).order_by("pk")
    work = _Work([], dict(records.values_list("pk", "mobile")), {}, {})
    work.records = sorted(work.mobiles)
    lines = Appointment.objects.filter(facility_id=facility_id, date__gte=start, beneficiary_id__in=work.records)
    for day, pk in lines.exclude(status=Appointment.Status.CANCELLED).values_list("date", "beneficiary_id"):
        work.due.setdefault(day, []).append(pk)
    doses = Dose.objects.filter(facility_id=facility_id, given_on__gte=start, beneficiary_id__in=work.records)
    for day, pk in doses.values_list("given_on", "beneficiary_id"):
        work.dosed.setdefault(day, []).append(pk)
    return work


def _candidates(work: _Work, day: date, task: str) -> list[int]:
    """The records `task` may look up on `day`: due lists of the sessions around it, doses of the month before."""
    if task == "due":
        return work.around(work.due, day, 3, 2)
    if task == "planning":
        return work.around(work.due, day, 0, 5)
    if task == "certificate":
        return work.around(work.dosed, day - timedelta(days=1), 29, 0)
    if task == "adverse":
        return work.around(work.dosed, day - timedelta(days=1), 2, 0)
    return work.records


def _task_pick(work: _Work, day: date, rng: random.Random) -> tuple[str, int]:
    """(task, record) of one honest look-up: a task drawn by weight, else the first with a record that day."""
    drawn = rng.choices(list(TASKS), weights=list(TASKS.values()))[0]
    for task in (drawn, "due", "planning"):
        if candidates := _candidates(work, day, task):
            return task, rng.choice(candidates)
    return "asked", rng.choice(work.records)


def _day_lookups(reader: DemoReader, opens: datetime, work: _Work, rng, consents: list[Consent]) -> list[tuple]:
    """One working day of `reader`: each look-up a search by reference id, then the record opened; a record of
    someone who asked in person is opened once their consent is given (added to `consents`)."""
    wanted = min(round(rng.randint(*LOOKUPS_PER_DAY) * reader.pace), MAX_LOOKUPS_PER_DAY)
    span = int((datetime.combine(opens.date(), WORKDAY[1]) - datetime.combine(opens.date(), WORKDAY[0])).seconds)
    starts = sorted(rng.randrange(0, span - 180) for _ in range(wanted))
    events, free_from, consented = [], 0, set()
    for start in starts:
        start = max(start, free_from)
        (task, record), read_for = _task_pick(work, opens.date(), rng), rng.randint(8, 45)
        purpose = PURPOSE_OF[task]
        at = opens + timedelta(seconds=start, microseconds=rng.randrange(10**6))
        found = {"key": "reference_id", "results": 1, "out_of_scope": 0, "records": [record]}
        events.append((at, _event(reader, "search", record, purpose, detail=found)))
        opened = {}
        if task == "asked" and record in consented:  # asked again the same day: the consent stands
            opened = {"detail": {"consent": STANDING}}
        elif task == "asked":  # the code goes out as the record is asked for; it opens once the code is typed
            consented.add(record)
            read_for += 60
            consent = _consent(reader, record, work, given_at=at + timedelta(seconds=read_for - 5))
            consents.append(consent)
            asked = {"outcome": Outcome.CONSENT_ASKED, "detail": {"consent": "sent"}}
            events.append((consent.sent_at, {**_event(reader, "view", record, purpose), **asked}))
            opened = {"detail": {"consent": GIVEN}}
        events.append((at + timedelta(seconds=read_for), {**_event(reader, "view", record, purpose), **opened}))
        free_from = start + read_for + rng.randint(60, 300)
    return events


def _extraction_day(reader: DemoReader, opens: datetime, work: _Work, rng: random.Random) -> list[tuple]:
    """One day of the slow extractor: about 250 records of the facility opened one after another, at uneven
    gaps, each with a purpose that nothing explains (records/explain.py); a record that every purpose would
    explain is passed over (a few seconds spent)."""
    closes = timezone.make_aware(datetime.combine(opens.date(), WORKDAY[1]))
    at, events, wanted = opens + timedelta(seconds=rng.randint(0, 600)), [], rng.randint(*EXTRACTOR_VIEWS)
    verdicts: dict[tuple[int, str], bool] = {}
    while len(events) < wanted and at < closes:
        record = rng.choice(work.records)
        purposes = rng.sample(EXTRACTOR_PURPOSES, len(EXTRACTOR_PURPOSES))
        purpose = next((p for p in purposes if _unexplained(reader.user, record, p, at, verdicts)), None)
        if purpose is not None:
            events.append((at, _event(reader, "view", record, purpose)))
            at += timedelta(seconds=rng.randint(*EXTRACTOR_GAP_SECONDS), microseconds=rng.randrange(10**6))
        else:  # time passes all the same: a facility whose every record is explained ends the day empty
            at += timedelta(seconds=rng.randint(5, 15))
    return events


def _unexplained(worker: User, record: int, purpose: str, at: datetime, verdicts: dict) -> bool:
    """Whether nothing explains the look-up; `verdicts` keeps the answers of one day (without a consent, which
    the extractor never has, only the local date matters)."""
    if (record, purpose) not in verdicts:
        found = explanation_for(worker=worker, beneficiary=Beneficiary(pk=record), purpose=purpose, at=at)
        verdicts[record, purpose] = found is None
    return verdicts[record, purpose]


def _event(reader: DemoReader, action: str, record: int, purpose: str, *, detail: dict | None = None) -> dict:
    fields = {"action": action, "outcome": "allowed", "beneficiary_id": record, "purpose": purpose}
    return {**fields, **({"detail": detail} if detail else {}), "ip_address": reader.ip, "device_id": reader.device_id}


def _consent(reader: DemoReader, record: int, work: _Work, *, given_at: datetime) -> Consent:
    """The beneficiary's consent, given as with a code typed (none is kept: the demo sends no SMS)."""
    sent_at = given_at - timedelta(seconds=40)
    return Consent(
        beneficiary_id=record,
        worker=reader.user,
        mobile=work.mobiles[record],
        code_hash="",
        sent_at=sent_at,
        code_expires_at=sent_at + timedelta(minutes=5),
        given_at=given_at,
        valid_until=consent_day_end(given_at),
    )
