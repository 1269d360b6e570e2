"""P1: a full login (password, TOTP code, approved device) costs little more than its one Argon2id check.

Each login goes through the real pages with Django's test Client over HTTPS: POST the password, POST
the authenticator code, arrive on an approved device (its signed cookie is in the client). Argon2id
dominates by design; everything else the gate does (lockout checks, events, session) should add at
most 15 %. The baseline is one bare `check_password` against an Argon2id hash, timed in the same
process the same number of times. Medians, in seconds per operation.

django-otp accepts each 30-second step only once, so every login runs on a clock moved one step
further (freezegun) instead of waiting for real time to pass.
"""

from __future__ import annotations

import secrets
import statistics
import time

from bench import Result, django_setup, figure, repetitions

PASSWORD = secrets.token_urlsafe(24)  # a fresh one each run: its length does not change the Argon2 cost
USER_AGENT = "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile"
LOGIN, CODE, LOGOUT = "/accounts/login/", "/accounts/login/code/", "/accounts/logout/"
STEP = 30  # TOTPDevice's default step (checked against the device below)


def _worker():
    """A worker with an Argon2id password, a confirmed TOTP device and an approved device; returns both tokens."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import District, Facility, RegisteredDevice, Role, State, Status, User
    from accounts.services.devices import device_token_hash, device_token_new

    state, _ = State.objects.get_or_create(code="09", defaults={"name": "Uttar Pradesh"})
    district, _ = District.objects.get_or_create(state=state, code="164", defaults={"name": "Lucknow"})
    facility, _ = Facility.objects.get_or_create(district=district, code="1090100001", defaults={"name": "PHC Chinhat"})
    user = User.objects.filter(username="bench.asha").first()
    if user is None:
        user = User.objects.create_user(
            username="bench.asha",
            password=PASSWORD,
            first_name="Asha",
            last_name="Bench",
            role=Role.WORKER,
            status=Status.ACTIVE,
            facility=facility,
        )
        user.groups.set(Group.objects.filter(name=Role.WORKER))
    otp = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
    token = device_token_new()
    RegisteredDevice.objects.create(
        user=user,
        token_hash=device_token_hash(token),
        code=f"BENCH{RegisteredDevice.objects.filter(user=user).count() + 2:03d}",
        label="Chrome on Android",
        status=RegisteredDevice.Status.APPROVED,
    )
    return user, otp, token


def _client(device_token: str):
    from django.conf import settings
    from django.core import signing
    from django.test import Client

    from accounts.login.device_cookie import SALT

    client = Client(headers={"user-agent": USER_AGENT})
    name = settings.DEVICE_COOKIE_NAME
    client.cookies[name] = signing.get_cookie_signer(salt=name + SALT).sign(device_token)
    return client


def _totp(device) -> str:
    """The code of the current (possibly frozen) time, as the person's authenticator app shows it."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


class _HashTimer:
    """Sums the time spent in Argon2PasswordHasher.verify while active (to show what the rest of a login costs)."""

    def __init__(self, clock):
        self.clock, self.seconds, self.calls = clock, 0.0, 0

    def __enter__(self):
        from django.contrib.auth.hashers import Argon2PasswordHasher

        self.original = original = Argon2PasswordHasher.verify

        def verify(hasher, password, encoded):
            started = self.clock()
            try:
                return original(hasher, password, encoded)
            finally:
                self.seconds += self.clock() - started
                self.calls += 1

        Argon2PasswordHasher.verify = verify
        return self

    def __exit__(self, *exc):
        from django.contrib.auth.hashers import Argon2PasswordHasher

        Argon2PasswordHasher.verify = self.original


def _login_once(client, user, otp_device, clock) -> tuple[float, int, _HashTimer]:
    """One full login, timed; returns (seconds, queries, hashing). The caller moved the clock to a fresh step."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = _totp(otp_device)  # what the person reads off the phone: not part of the server's work
    with CaptureQueriesContext(connection) as queries, _HashTimer(clock) as hashing:
        started = clock()
        first = client.post(LOGIN, {"username": user.username, "password": PASSWORD}, secure=True)
        second = client.post(CODE, {"method": "totp", "token": token}, secure=True)
        elapsed = clock() - started
    if first.status_code != 302 or first["Location"] != CODE:
        raise RuntimeError(f"password step answered {first.status_code}, not a redirect to {CODE}")
    if second.status_code != 302 or second["Location"] != "/":
        raise RuntimeError(f"code step answered {second.status_code}, not a redirect home: the login failed")
    return elapsed, len(queries.captured_queries), hashing


@figure("P1", "full login (password, code, device) vs one Argon2id check", goal=1.15)
def login_vs_argon2(size: str) -> Result:
    django_setup()
    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, identify_hasher, make_password

    n = repetitions(size, small=5, full=30)
    clock = time.perf_counter
    if not settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher"):
        raise RuntimeError(f"P1 needs the real settings' Argon2 hasher, not {settings.PASSWORD_HASHERS[0]}")
    user, otp_device, device_token = _worker()
    if identify_hasher(user.password).algorithm != "argon2" or otp_device.step != STEP:
        raise RuntimeError("the bench worker must have an Argon2 password and a 30-second TOTP device")

    # One warm-up round (URLconf, templates, first connection), then n timed rounds. Each round is one
    # login, then one bare Argon2id check with the same hasher and parameters: interleaved, so both
    # see the same machine load.
    client = _client(device_token)
    encoded = make_password(PASSWORD, hasher=Argon2PasswordHasher())
    seconds, queries, bare, rest, hashes = [], [], [], [], set()
    for i in range(n + 1):
        # django-otp accepts each 30-second step once (`last_t`): forget the step the last round used,
        # as if the person came back half a minute later (without freezegun, whose clock costs time).
        type(otp_device).objects.filter(pk=otp_device.pk).update(last_t=-1, throttling_failure_count=0)
        elapsed, count, hashing = _login_once(client, user, otp_device, clock)
        client.post(LOGOUT, secure=True)  # the next login starts signed out, as a person's would
        started = clock()
        ok = check_password(PASSWORD, encoded)
        argon2_elapsed = clock() - started
        if not ok:
            raise RuntimeError("the baseline Argon2 check failed")
        if i:
            seconds.append(elapsed)
            queries.append(count)
            bare.append(argon2_elapsed)
            rest.append(elapsed - hashing.seconds)
            hashes.add(hashing.calls)

    spread = "" if min(queries) == max(queries) else f"queries per login varied {min(queries)}–{max(queries)}; "
    value, baseline = statistics.median(seconds), statistics.median(bare)
    return Result(
        value=value,
        baseline=baseline,
        unit="s",
        size=size,
        queries=round(statistics.median(queries)),
        repetitions=n,
        notes=f"{spread}Argon2id checks per login {'/'.join(map(str, sorted(hashes)))}; work besides them "
        f"{1000 * statistics.median(rest):.1f} ms (median); min/max: login {min(seconds):.4f}/{max(seconds):.4f} s, "
        f"Argon2id {min(bare):.4f}/{max(bare):.4f} s",
    )
