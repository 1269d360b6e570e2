"""`make load`'s data: the demo (seed_demo) plus accounts for the simulated people, written for the load tool.

Run as `python -m bench._load_seed --out FILE …` by bench/_load.py, with the environment of the production
profile pointing at the load's own fresh database (DEBUG off, the run's secret key). It migrates, runs
`seed_demo --force` (places, records, a month of work, 30 days of look-ups, the anomalies job), then makes
the load's own accounts through the same services the demo uses: active workers spread over the demo
facilities and supervisors over the demo districts, each with a confirmed TOTP device and one approved
device. Every simulated person signs in as an account of their own (django-otp takes each 30-second code
once per account, and lockouts, budgets and the anomaly rules count per account), so there are many more
accounts than simulated people: the load tool takes a free one for each session.

All load accounts share one password, hashed once (Argon2id, the real settings' hasher): the hash is what a
login pays for, and hashing it once per account would only slow the set-up down. FILE (mode 0600, in the
run's temporary directory) lists each account with its password, TOTP key, signed device cookie and the
address its proxy would report, and each facility's ordinary records (never a canary).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

WORKER_PREFIX, SUPERVISOR_PREFIX = "load.w", "load.s"
REASON = "make load: simulated account"


def accounts_build(*, workers: int, supervisors: int) -> dict:
    """Make the load's accounts and return what the load tool needs to sign in as them (see the module)."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core import signing
    from django.db import transaction
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.login.device_cookie import SALT
    from accounts.models import District, Facility, Role, Status, User
    from accounts.services.devices import device_register_approved, device_token_new
    from accounts.services.system import system_user
    from accounts.services.users import user_create
    from portal.management.commands.seed_demo import DEMO_FACILITY_CODES
    from records.models import Beneficiary

    system = system_user()
    facilities = list(Facility.objects.filter(code__in=DEMO_FACILITY_CODES).order_by("code"))
    districts = list(District.objects.filter(facilities__in=facilities).distinct().order_by("code"))
    if not facilities or not districts:
        raise RuntimeError("seed_demo made no facilities: nothing to sign in to")
    password = secrets.token_urlsafe(18)
    encoded = make_password(password)
    cookie = settings.DEVICE_COOKIE_NAME
    signer = signing.get_cookie_signer(salt=cookie + SALT)
    plans = [
        (f"{WORKER_PREFIX}{n:04d}", Role.WORKER, {"facility": facilities[n % len(facilities)]}) for n in range(workers)
    ]
    plans += [
        (f"{SUPERVISOR_PREFIX}{n:03d}", Role.SUPERVISOR, {"district": districts[n % len(districts)]})
        for n in range(supervisors)
    ]
    accounts = []
    with transaction.atomic():
        for n, (username, role, place) in enumerate(plans):
            user = user_create(
                username=username, role=role, acting_user=system, reason=REASON, status=Status.ACTIVE, **place
            )
            User.objects.filter(pk=user.pk).update(password=encoded)
            otp = TOTPDevice.objects.create(user=user, name="load authenticator", confirmed=True)
            token = device_token_new()
            device_register_approved(user=user, token=token, label="load browser", acting_user=system, reason=REASON)
            accounts.append(
                {
                    "username": username,
                    "role": role,
                    "facility": place["facility"].code if "facility" in place else None,
                    "totp_key": otp.key,
                    "device_cookie": signer.sign(token),
                    # What a TLS proxy in front would append to X-Forwarded-For: one address per person.
                    "ip": f"10.{64 + n // 65025}.{n // 255 % 255}.{n % 255 + 1}",
                }
            )
    records: dict[str, list[str]] = {f.code: [] for f in facilities}
    ordinary = Beneficiary.objects.filter(facility__in=facilities, is_canary=False).order_by("reference_id")
    for code, reference_id in ordinary.values_list("facility__code", "reference_id"):
        records[code].append(reference_id)
    if workers and not all(records.values()):
        raise RuntimeError("a demo facility has no ordinary record to look up: seed more beneficiaries")
    return {
        "password": password,
        "device_cookie_name": cookie,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "accounts": accounts,
        "records": records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--supervisors", type=int, required=True)
    parser.add_argument("--beneficiaries", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.base"

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", force=True, beneficiaries=args.beneficiaries, verbosity=0, stdout=sys.stderr)
    built = accounts_build(workers=args.workers, supervisors=args.supervisors)
    descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(built, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
