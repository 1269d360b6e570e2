"""`manage.py seed_demo`: build the idempotent demo data of CONTRACT.md (development only).

Besides places, accounts and records: a month of vaccination sessions with their due lists and doses
(records.demo_month), 30 days of the active workers' look-ups (records.demo_lookups), then the `anomalies`
job, which ties them to that work (the `explain` job's step), scores them and adds their views to the
dashboard's tallies; and a short banner: who to sign in as, where the credentials are, records the demo
worker may read (`--banner-out`, which `make run` prints once the web answers). The slow extractor is named
in the credentials file only.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Facility, Role, Status, User
from accounts.services.demo import DEFAULT_WORKERS, DISTRICTS, OPERATOR_USERNAME, STATE_NAME, DemoResult, demo_build
from accounts.services.system import system_user
from governance.jobs import job_run
from records.demo import CANARIES_PER_DISTRICT, beneficiaries_build, sample_reference_ids
from records.demo_lookups import LOOKUP_DAYS, SLOW_EXTRACTOR, SLOW_EXTRACTOR_ROLE, demo_readers, lookups_build
from records.demo_month import MonthDemo, month_build

# Enough for each facility's due lists of a month and more (records.demo_month); the canaries come on top.
DEFAULT_BENEFICIARIES = 1800
DEMO_FACILITY_CODES = [f.code for d in DISTRICTS for f in d.facilities]


class Command(BaseCommand):
    help = (
        "Build a demo state, districts, facilities and accounts in every status (idempotent). "
        "Refuses to run when DEBUG is off unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="health workers to build (default 12)")
        parser.add_argument(
            "--beneficiaries",
            type=int,
            default=DEFAULT_BENEFICIARIES,
            help=f"synthetic beneficiaries in all, besides the canaries (default {DEFAULT_BENEFICIARIES})",
        )
        parser.add_argument(
            "--credentials-out",
            type=Path,
            metavar="FILE",
            help="write the demo accounts' passwords, TOTP keys and device cookies to FILE as JSON (mode 0600)",
        )
        parser.add_argument(
            "--banner-out",
            type=Path,
            metavar="FILE",
            help="write a short text of who to sign in as and which records to try to FILE",
        )
        parser.add_argument("--force", action="store_true", help="run even though DEBUG is off")

    def handle(self, *args, workers: int, beneficiaries: int, credentials_out: Path | None, force: bool, **options):
        banner_out: Path | None = options.get("banner_out")
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo builds demo accounts and refuses to run when DEBUG is off. "
                "Set DJANGO_DEBUG=1 for development, or pass --force if you really mean this database."
            )
        if workers < 0:
            raise CommandError("--workers must be 0 or more.")
        if beneficiaries < 0:
            raise CommandError("--beneficiaries must be 0 or more.")
        known = _credentials_read(credentials_out) if credentials_out else {}
        with transaction.atomic():
            result = demo_build(workers=workers, collect_credentials=credentials_out is not None, known_passwords=known)
            facilities = list(Facility.objects.filter(code__in=DEMO_FACILITY_CODES).order_by("code"))
            records = beneficiaries_build(count=beneficiaries, facilities=facilities, system=system_user())
            month = month_build(facilities=facilities, system=system_user())
            lookups = lookups_build(readers=demo_readers(result.accounts))
            for entry in result.credentials:
                if entry["username"] == SLOW_EXTRACTOR:
                    entry["role_in_demo"] = SLOW_EXTRACTOR_ROLE
            if credentials_out:
                # Inside the transaction: if the file cannot be written, no password changes either.
                _credentials_write(credentials_out, result.credentials)
        self._summarise(result, credentials_out)
        self.stdout.write(
            f"Beneficiaries: {records.total} in the demo facilities ({records.created} created, "
            f"{records.canaries_created} canaries created; {CANARIES_PER_DISTRICT} canaries per district)."
        )
        self._month(month)
        # The job the beat runs every few minutes, now: it ties the new look-ups to the month's work (explain),
        # scores them (the slow extractor's unexplained views raise alerts) and adds them to the dashboard.
        scored = job_run("anomalies")
        alerts = ", ".join(f"{rule} {n}" for rule, n in scored.get("alerts", {}).items()) or "none"
        self.stdout.write(
            f"Look-ups: {lookups} access events added (up to {LOOKUP_DAYS} days back); the anomalies job explained "
            f"and scored {scored.get('events_scored', 0)} and added their views to the dashboard; alerts: {alerts}."
        )
        if credentials_out and _statuses_refresh(result.credentials):
            _credentials_write(credentials_out, result.credentials)  # an account the job suspended says so
        banner = _banner(result.accounts, credentials_out)
        self.stdout.write(banner)
        if banner_out:
            banner_out.parent.mkdir(parents=True, exist_ok=True)
            banner_out.write_text(banner, encoding="utf-8")

    def _month(self, month: MonthDemo) -> None:
        settled = ", ".join(f"{n} {status}" for status, n in sorted(month.settled.items())) or "none"
        self.stdout.write(
            f"Work: {month.sessions} sessions' due lists drawn, {month.booked} appointments booked; settled: "
            f"{settled}; {month.doses} doses given by the workers."
        )

    def _summarise(self, result: DemoResult, credentials_out: Path | None) -> None:
        facilities = sum(len(d.facilities) for d in DISTRICTS)
        self.stdout.write(f"Demo jurisdiction: {STATE_NAME}, {len(DISTRICTS)} districts, {facilities} facilities.")
        present = len(result.accounts) - result.created
        self.stdout.write(f"Accounts: {len(result.accounts)} ({result.created} created, {present} already present).")
        for role, statuses in result.counts().items():
            shown = " ".join(f"{status}={statuses[status]}" for status in Status.values if statuses[status])
            self.stdout.write(f"  {role}: {shown or 'none'}")
        missing = [s for s in Status.values if not result.counts()[Role.WORKER][s]]
        if missing:
            self.stdout.write(self.style.WARNING(f"No demo worker is {', '.join(missing)}: use --workers 7 or more."))
        if credentials_out:
            self.stdout.write(
                f"Credentials of {len(result.credentials)} accounts written to {credentials_out} "
                f"({result.passwords_reset} existing passwords replaced)."
            )


def _banner(accounts: list[User], credentials_out: Path | None) -> str:
    """Who to sign in as, where their credentials are, and records the first active worker may read."""
    active = [u for u in accounts if u.status == Status.ACTIVE]
    worker = next((u for u in active if u.role == Role.WORKER), None)
    supervisor = next((u for u in active if u.role == Role.SUPERVISOR), None)
    people = []
    if worker is not None:
        people.append(f"  {worker.username:<14}health worker at {worker.facility.name}: finds records")
    if supervisor is not None:
        people.append(
            f"  {supervisor.username:<14}supervisor of {supervisor.district.name}: the console, its dashboard"
        )
    if any(u.username == OPERATOR_USERNAME for u in active):
        people.append(f"  {OPERATOR_USERNAME:<14}operator (superuser): the job schedules")
    where = f" (passwords, TOTP keys, otpauth URIs: {credentials_out})" if credentials_out else ""
    lines = [f"Sign in as{where}:", *people]
    if worker is not None and (samples := sample_reference_ids(worker)):
        lines.append(f"Records {worker.username} may read: {', '.join(samples)}")
    if supervisor is not None:
        lines.append("Your first browser waits for approval; approve it from another terminal:")
        lines.append(
            f'  .venv/bin/python manage.py device approve --user {supervisor.username} --code CODE --reason "demo"'
        )
    return "\n".join(lines) + "\n"


def _statuses_refresh(credentials: list[dict]) -> bool:
    """Set each entry's `status` to the account's status now; whether any changed."""
    now = dict(User.objects.filter(username__in=[e["username"] for e in credentials]).values_list("username", "status"))
    changed = [entry for entry in credentials if entry["status"] != now.get(entry["username"], entry["status"])]
    for entry in changed:
        entry["status"] = now[entry["username"]]
    return bool(changed)


def _credentials_read(path: Path) -> dict[str, dict]:
    """Return {username: {"password", "device_token"}} from an earlier credentials file, or {} when there is none."""
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {
            entry["username"]: {"password": entry.get("password"), "device_token": entry.get("device_token")}
            for entry in entries
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise CommandError(
            f"Cannot read the credentials file {path} ({error}): move it away or choose another."
        ) from error


def _credentials_write(path: Path, credentials: list[dict]) -> None:
    """Replace `path` atomically with the credentials as JSON, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
