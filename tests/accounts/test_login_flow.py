"""The login gate through real HTTP posts: password → OTP → account state → device → session."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, RegisteredDevice, Status, SuspensionCause, UserSession
from accounts.services.devices import device_approve
from accounts.services.lifecycle import user_suspend

PASSWORD = "correct horse battery staple"
LOGIN, CODE = "/accounts/login/", "/accounts/login/code/"


def totp_now(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step if offset_steps else totp.time
    return f"{totp.token():06d}"


@pytest.fixture
def phone(world):
    return TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)


def later(seconds: int):
    """Move the clock on: TOTP codes change every 30 s, so a later step gives a code never used before."""
    return freeze_time(timezone.now() + timedelta(seconds=seconds), tick=True)


def post_password(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def post_code(client, token, method="totp"):
    """Post a code as the page does: a backup code in its own field (the select still posts its choice)."""
    if method == "backup":
        return client.post(CODE, {"method": "totp", "token": "", "backup_code": token})
    return client.post(CODE, {"method": method, "token": token})


def full_login(client, user, device_otp):
    assert post_password(client, user.username).status_code == 302
    return post_code(client, totp_now(device_otp))


def approve_pending(user, supervisor):
    device = RegisteredDevice.objects.get(user=user, status="pending")
    device_approve(device=device, acting_user=supervisor, reason="confirmed code by phone")
    return device


def signed_in_as(client) -> str | None:
    response = client.get("/")
    return response.context["user"].username if response.status_code == 200 else None


def without_csrf(body: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


@pytest.mark.django_db
def test_first_login_from_a_new_browser_waits_for_the_supervisor_then_gets_in(world, client, phone):
    response = full_login(client, world.worker, phone)
    assert response.status_code == 403
    device = RegisteredDevice.objects.get(user=world.worker)
    assert device.status == "pending"
    assert device.code in response.content.decode()
    assert settings.DEVICE_COOKIE_NAME in response.cookies
    cookie = response.cookies[settings.DEVICE_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert device.token_hash not in cookie.value  # only the hash is stored, only the token travels
    assert signed_in_as(client) is None
    assert not UserSession.objects.filter(user=world.worker).exists()
    with later(31):
        assert full_login(client, world.worker, phone).status_code == 403  # still waiting
    device.refresh_from_db()
    assert device.status == "pending" and device.last_seen_at is None  # seen only when a login goes ahead

    approve_pending(world.worker, world.supervisor)
    with later(62):
        started = timezone.now()
        response = full_login(client, world.worker, phone)
        assert response.status_code == 302 and response["Location"] == "/"
        device.refresh_from_db()
        assert started <= device.last_seen_at <= timezone.now()
    assert signed_in_as(client) == "asha"
    events = set(AccountEvent.objects.filter(subject=world.worker).values_list("type", flat=True))
    assert {
        AccountEventType.DEVICE_REGISTERED,
        AccountEventType.DEVICE_APPROVED,
        AccountEventType.LOGIN_SUCCEEDED,
    } <= events


@pytest.fixture
def approved(world, client, phone):
    """asha's browser (the `client`) is an approved device; she is not signed in."""
    full_login(client, world.worker, phone)
    approve_pending(world.worker, world.supervisor)
    client.post("/accounts/logout/")
    return client


@pytest.mark.django_db
def test_each_failure_before_the_code_looks_the_same(world, client, approved):
    AXES_USERNAME = world.colleague
    user_suspend(user=AXES_USERNAME, acting_user=world.supervisor, reason="on leave")
    pages = {
        "unknown user": post_password(client, "nobody-here"),
        "wrong password": post_password(client, "asha", "not the password at all"),
        "suspended account, wrong password": post_password(client, "ravi", "not the password at all"),
    }
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_password(client, "meena", "wrong again and again")
    pages["locked account, right password"] = post_password(client, "meena")
    statuses = {name: r.status_code for name, r in pages.items()}
    assert set(statuses.values()) == {200}, statuses
    bodies = {name: without_csrf(r.content) for name, r in pages.items()}
    reference = bodies.pop("unknown user")
    for name, body in bodies.items():
        assert body == reference, f"{name} differs from an unknown user"
    assert "Sign-in failed" in reference


@pytest.mark.django_db
def test_a_suspended_account_learns_its_state_only_after_password_and_code(world, client, approved, phone):
    user_suspend(
        user=world.worker, acting_user=world.supervisor, reason="shared password", cause=SuspensionCause.MANUAL
    )
    assert post_password(client, "asha").status_code == 302  # same as an active account
    response = post_code(client, totp_now(phone, offset_steps=1))
    assert response.status_code == 403
    assert "Your account is suspended" in response.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_a_totp_code_is_never_accepted_twice(world, client, approved, phone):
    with later(31):
        code = totp_now(phone)
        assert post_password(client, "asha").status_code == 302
        assert post_code(client, code).status_code == 302
        client.post("/accounts/logout/")
        assert post_password(client, "asha").status_code == 302
        replay = post_code(client, code)
    assert replay.status_code == 200
    assert "That code is not right" in replay.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_ten_mixed_password_and_code_failures_lock_the_account(world, client, approved, phone):
    for _ in range(5):
        post_password(client, "asha", "wrong password here")
    for _ in range(5):
        assert post_password(client, "asha").status_code == 302
        post_code(client, "000000" if totp_now(phone) != "000000" else "111111")
    assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOCKED_OUT).count() == 1
    locked = post_password(client, "asha")  # right password, still refused, same page
    assert locked.status_code == 200 and "Sign-in failed" in locked.content.decode()


@pytest.mark.django_db
def test_a_success_resets_the_failure_count(world, client, approved, phone):
    for _ in range(9):
        post_password(client, "asha", "wrong password here")
    with later(31):
        assert full_login(client, world.worker, phone).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(9):
        post_password(client, "asha", "wrong password here")
    assert not AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOCKED_OUT).exists()


@pytest.mark.django_db
def test_a_stolen_session_cookie_without_the_device_cookie_is_ended(world, client, approved, phone):
    from django.test import Client

    with later(31):
        full_login(client, world.worker, phone)
    assert signed_in_as(client) == "asha"
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert thief.get("/").status_code == 302
    assert not UserSession.objects.filter(user=world.worker).exists()
    ended = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.SESSIONS_ENDED).first()
    assert ended.data["reason"] == "device"


@pytest.mark.django_db
def test_revoking_the_device_ends_its_session(world, client, approved, phone):
    from accounts.services.devices import device_revoke

    with later(31):
        full_login(client, world.worker, phone)
    device = RegisteredDevice.objects.get(user=world.worker, status="approved")
    device_revoke(device=device, acting_user=world.supervisor, reason="phone lost")
    assert not UserSession.objects.filter(user=world.worker).exists()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_a_new_login_ends_the_older_session_and_says_so(world, client, approved, phone):
    from django.test import Client

    with later(31):
        full_login(client, world.worker, phone)
    second = Client()
    second.cookies[settings.DEVICE_COOKIE_NAME] = client.cookies[settings.DEVICE_COOKIE_NAME].value
    with later(62):
        response = full_login(second, world.worker, phone)
        page = second.get(response["Location"])
    assert "earlier session has been ended" in page.content.decode()
    assert UserSession.objects.filter(user=world.worker).count() == 1
    assert signed_in_as(client) is None
    # The anonymous session each login rotates away goes in the same statement, and is not counted.
    logins = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGIN_SUCCEEDED).order_by("pk")
    assert [event.data["sessions_ended"] for event in logins] == [0, 1]


@pytest.mark.django_db
def test_idle_and_absolute_limits_end_the_session(world, client, approved, phone):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() + timedelta(seconds=31)
    with freeze_time(start) as clock:
        full_login(client, world.worker, phone)
        clock.tick(timedelta(minutes=14))
        assert signed_in_as(client) == "asha"
        clock.tick(timedelta(minutes=15, seconds=1))
        assert signed_in_as(client) is None
    with freeze_time(start + timedelta(hours=1)) as clock:
        full_login(client, world.worker, phone)
        for _ in range(71):  # active every 10 minutes for 11 h 50 min: never idle
            clock.tick(timedelta(minutes=10))
            assert signed_in_as(client) == "asha"
        clock.tick(timedelta(minutes=11))  # 12 h 1 min after the login
        assert signed_in_as(client) is None
    reasons = list(
        AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.SESSIONS_ENDED).values_list(
            "data__reason", flat=True
        )
    )
    assert reasons == ["absolute", "idle"]


@pytest.mark.django_db
def test_the_third_approved_device_is_refused(world):
    from accounts.exceptions import DomainError
    from accounts.services.devices import device_register, device_token_new

    devices = [
        device_register(user=world.worker, token=device_token_new(), ip="10.0.0.1", user_agent="Chrome on Android")
        for _ in range(3)
    ]
    device_approve(device=devices[0], acting_user=world.supervisor, reason="phone")
    device_approve(device=devices[1], acting_user=world.supervisor, reason="PHC computer")
    with pytest.raises(DomainError, match="already has 2 approved devices"):
        device_approve(device=devices[2], acting_user=world.supervisor, reason="laptop")
    devices[2].refresh_from_db()
    assert devices[2].status == "pending"


@pytest.mark.django_db
def test_nobody_approves_their_own_device(world):
    from accounts.exceptions import NotPermitted
    from accounts.services.devices import device_register, device_token_new

    device = device_register(user=world.supervisor, token=device_token_new(), ip=None, user_agent="")
    with pytest.raises(NotPermitted):
        device_approve(device=device, acting_user=world.supervisor, reason="it is mine")
    with pytest.raises(NotPermitted):
        device_approve(device=device, acting_user=world.peer_supervisor, reason="colleague")
    device_approve(device=device, acting_user=world.state_admin, reason="level above")


@pytest.mark.django_db
def test_suspension_ends_a_signed_in_session(world, client, approved, phone):
    with later(31):
        full_login(client, world.worker, phone)
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="investigation")
    assert signed_in_as(client) is None
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED


@pytest.mark.django_db
def test_a_full_login_stays_within_its_query_budget(world, client, approved, phone, django_assert_max_num_queries):
    """The gate's own cost beside the password hash is mostly queries (bench P1): keep their number down."""
    with later(31), django_assert_max_num_queries(15):  # 14 here (a signed-out session is rotated first)
        assert full_login(client, world.worker, phone).status_code == 302


@pytest.mark.django_db
def test_the_session_key_changes_at_the_password_and_at_the_code(world, client, approved, phone):
    """No session fixation: a key the browser held before either step stops working, and has no row left."""
    session = client.session
    session["language_seen"] = "hi"  # an anonymous session that exists before the password
    session.save()
    keys = [session.session_key]
    with later(31):
        assert post_password(client, world.worker.username).status_code == 302
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
        assert post_code(client, totp_now(phone)).status_code == 302
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert len(set(keys)) == 3
    assert not UserSession.objects.filter(session_key__in=keys[:2]).exists()
    row = UserSession.objects.get(session_key=keys[2])
    assert row.user == world.worker and row.device is not None
    assert row.get_decoded()["language_seen"] == "hi"  # rotation keeps the data, only the key changes
    assert signed_in_as(client) == "asha"


@pytest.mark.django_db
def test_a_rotated_session_is_written_once(world, client, approved, phone):
    """The new key's row is INSERTed once, with the user, when the response is made (no INSERT then UPDATE)."""
    with later(31):
        assert post_password(client, world.worker.username).status_code == 302
        with CaptureQueriesContext(connection) as queries:
            assert post_code(client, totp_now(phone)).status_code == 302
    writes = [q["sql"].split()[0] for q in queries.captured_queries if "accounts_usersession" in q["sql"]]
    assert writes.count("INSERT") == 1 and "UPDATE" not in writes


@pytest.mark.django_db
def test_a_sign_in_that_fails_at_its_end_leaves_nothing_half_done(world, client, approved, phone):
    """The code's use, the end of the older session, the new session's row and the events commit together."""
    from django.test import Client

    with later(31):
        full_login(client, world.worker, phone)
    older = client.cookies[settings.SESSION_COOKIE_NAME].value
    second = Client()
    second.cookies[settings.DEVICE_COOKIE_NAME] = client.cookies[settings.DEVICE_COOKIE_NAME].value
    phone.refresh_from_db()
    used, events = phone.last_t, AccountEvent.objects.count()
    with later(62), mock.patch("accounts.login.flow.event_record", side_effect=RuntimeError("disk full")):
        assert post_password(second, world.worker.username).status_code == 302
        with pytest.raises(RuntimeError):
            post_code(second, totp_now(phone))
    phone.refresh_from_db()
    assert phone.last_t == used  # the code is not spent by a sign-in that did not happen
    assert list(UserSession.objects.filter(user=world.worker).values_list("session_key", flat=True)) == [older]
    assert AccountEvent.objects.count() == events
    assert signed_in_as(client) == "asha"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password", "reads"),
    [
        ("asha", PASSWORD, 1),
        ("asha", "not the password at all", 1),
        ("ASHA", PASSWORD, 1),
        ("nobody-here", PASSWORD, 2),  # ModelBackend looks too, and hashes for the time an account would take
    ],
)
def test_the_password_step_hashes_once_and_reads_a_known_account_once(
    world, client, approved, username, password, reads
):
    """Right or wrong, known or not: one password hash (the same time); an account that exists is read once."""
    hashes = []
    original = MD5PasswordHasher.encode

    def encode(hasher, *args, **kwargs):
        hashes.append(1)
        return original(hasher, *args, **kwargs)

    with CaptureQueriesContext(connection) as queries, mock.patch.object(MD5PasswordHasher, "encode", encode):
        post_password(client, username, password)
    assert len(hashes) == 1
    account_reads = [q for q in queries.captured_queries if re.search(r'(?:FROM|JOIN) \(?"?accounts_user"? ', q["sql"])]
    assert len(account_reads) == reads


@pytest.mark.django_db
def test_the_password_step_finds_the_account_through_its_unique_index(world):
    """Whatever the letter case, the account is looked up as its unique index compares names (in lower
    case): an index lookup, never a scan of every account."""
    from accounts.services.lockouts import user_by_username

    assert user_by_username("AsHa") == world.worker
    with CaptureQueriesContext(connection) as queries:
        user_by_username("ASHA")
    plan = plan_of(queries.captured_queries[0]["sql"])
    assert "username_unique_ignoring_case" in plan, plan


def plan_of(sql: str) -> str:
    """PostgreSQL's plan for `sql` on the accounts as they are, as if there were many."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small is scanned anyway
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
