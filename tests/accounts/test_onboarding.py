"""Onboarding: invitations (single use, 72 hours, hashed, re-send, revoke), enrolment, approval, offboarding."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts import sms
from accounts.exceptions import DomainError, IllegalTransition, NotPermitted
from accounts.models import (
    AccountEvent,
    AccountEventType,
    Invitation,
    Notification,
    RegisteredDevice,
    Role,
    Status,
    UndertakingAcceptance,
    User,
    UserSession,
)
from accounts.services.enrolment import onboarding_approve, onboarding_reject
from accounts.services.lifecycle import user_deactivate
from accounts.services.notifications import notification_send
from accounts.services.onboarding import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
    invitations_expire,
    token_hash,
    username_for,
)
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
BASE = "https://prahari.example/"
PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def invite(world, **overrides):
    fields = {
        "acting_user": world.supervisor,
        "first_name": "Sunita",
        "last_name": "Devi",
        "mobile": "98765 43210",
        "facility": world.facility,
        "base_url": BASE,
    }
    return invitation_create(**{**fields, **overrides})


def token_of(sent) -> str:
    return sent.url.rstrip("/").rsplit("/", 1)[-1]


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def back_off_waited(model, user) -> None:
    """As if the person waited out the back-off of the codes they got wrong."""
    model.objects.filter(user=user).update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def enrol(client: Client, sent, *, password=PASSWORD, code=None, accept=True):
    """Open the link, then post the enrolment form with a code from the page's authenticator."""
    page = client.get(f"/accounts/enrol/{token_of(sent)}/", secure=True)
    assert page.status_code == 200
    version = re.search(rb'name="undertaking_version" value="(\d+)"', page.content).group(1).decode()
    device = TOTPDevice.objects.get(user=sent.user, confirmed=False)
    data = {
        "password1": password,
        "password2": password,
        "method": "totp",
        "token": code if code is not None else code_for(device),
        "undertaking_version": version,
    }
    if accept:
        data["accept"] = "on"
    return client.post(f"/accounts/enrol/{token_of(sent)}/", data, secure=True)


# --- Invitations ----------------------------------------------------------------------------------------


def test_an_invitation_creates_an_invited_account_and_sends_a_hashed_single_use_link(world):
    sent = invite(world)
    user = sent.user
    assert (user.status, user.role, user.facility, user.mobile) == (
        Status.INVITED,
        Role.WORKER,
        world.facility,
        "+919876543210",
    )
    assert user.username == "sunita.devi" and not user.has_usable_password()
    token = token_of(sent)
    assert len(token) >= 43 and sent.invitation.token_hash == token_hash(token) != token
    assert not Invitation.objects.filter(token_hash__contains=token).exists()
    assert "token_hash" not in {f.name for f in Invitation.history.model._meta.fields}  # nor in its history
    assert sent.invitation.expires_at - sent.invitation.created_at == timedelta(hours=72)
    row = Notification.objects.get(user=user, kind="invitation", channel="sms")
    assert notification_send(notification_id=row.pk)
    assert sms.outbox[-1][0] == "+919876543210" and sent.url in sms.outbox[-1][1]
    row.refresh_from_db()
    assert row.context == {}  # the link is erased from the outbox once sent
    event = AccountEvent.objects.get(type=AccountEventType.INVITATION_SENT)
    assert (event.actor, event.subject) == (world.supervisor, user)


def test_invitations_stay_inside_the_jurisdiction(world):
    with pytest.raises(NotPermitted):
        invite(world, facility=world.far_facility)
    with pytest.raises(NotPermitted):
        invite(world, acting_user=world.worker)
    with pytest.raises(NotPermitted):
        invite(world, role=Role.SUPERVISOR, district=world.district)  # supervisors invite workers only
    sent = invite(world, acting_user=world.state_admin, role=Role.SUPERVISOR, district=world.district, facility=None)
    assert (sent.user.role, sent.user.district, sent.user.is_staff) == (Role.SUPERVISOR, world.district, True)
    with pytest.raises(NotPermitted):
        invite(
            world,
            acting_user=world.state_admin,
            role=Role.SUPERVISOR,
            district=None,
            facility=None,
            mobile="9000000002",
        )
    assert not User.objects.filter(mobile="+919000000002").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mobile": "12345"}, "Indian mobile number"),
        ({"mobile": "98765 43210"}, "already has the mobile number"),
        ({"first_name": "  "}, "first name is required"),
        ({"email": "not-an-address", "mobile": "9000000003"}, "valid e-mail"),
    ],
)
def test_bad_invitations_are_refused_with_a_reason(world, fields, message):
    invite(world)
    with pytest.raises(DomainError, match=message):
        invite(world, **fields)
    assert User.objects.filter(status=Status.INVITED).count() == 1


def test_usernames_are_never_reused(world):
    first = invite(world).user
    user_deactivate(user=first, acting_user=world.supervisor, reason="left the job")
    second = invite(world, mobile="9000000004").user
    assert (first.username, second.username) == ("sunita.devi", "sunita.devi2")
    assert username_for("Śyāma", "Rāṇī") == "syama.rani"


def test_resend_replaces_the_link_and_revoke_closes_it(world):
    client = Client()
    first = invite(world)
    second = invitation_resend(user=first.user, acting_user=world.supervisor, base_url=BASE)
    assert client.get(f"/accounts/enrol/{token_of(first)}/", secure=True).status_code == 410
    assert client.get(f"/accounts/enrol/{token_of(second)}/", secure=True).status_code == 200
    invitation_revoke(user=first.user, acting_user=world.supervisor, reason="wrong facility")
    assert client.get(f"/accounts/enrol/{token_of(second)}/", secure=True).status_code == 410
    assert list(Invitation.objects.order_by("pk").values_list("state", flat=True)) == ["revoked", "revoked"]
    with pytest.raises(NotPermitted):
        invitation_resend(user=first.user, acting_user=world.far_supervisor, base_url=BASE)


def test_a_link_expires_after_72_hours_and_the_job_expires_the_account(world):
    sent = invite(world)
    client = Client()
    with freeze_time(timezone.now() + timedelta(hours=71, minutes=59)):
        assert client.get(f"/accounts/enrol/{token_of(sent)}/", secure=True).status_code == 200
    with freeze_time(timezone.now() + timedelta(hours=72, seconds=1)):
        assert client.get(f"/accounts/enrol/{token_of(sent)}/", secure=True).status_code == 410
        assert invitations_expire(acting_user=world.system) == {"links_expired": 1, "accounts_expired": 1}
        assert invitations_expire(acting_user=world.system) == {"links_expired": 0, "accounts_expired": 0}
    sent.user.refresh_from_db()
    assert sent.user.status == Status.EXPIRED


# --- Enrolment ------------------------------------------------------------------------------------------


def test_enrolment_sets_everything_at_once_and_the_link_works_only_once(world):
    sent = invite(world)
    client = Client()
    response = enrol(client, sent)
    assert response.status_code == 200 and b"device-code" in response.content
    user = User.objects.get(pk=sent.user.pk)
    assert user.status == Status.PENDING_APPROVAL and check_password(PASSWORD, user.password)
    assert TOTPDevice.objects.get(user=user).confirmed
    device = RegisteredDevice.objects.get(user=user)
    assert device.status == RegisteredDevice.Status.PENDING and device.code.encode() in response.content
    assert settings.DEVICE_COOKIE_NAME in response.cookies and response.cookies[settings.DEVICE_COOKIE_NAME]["httponly"]
    assert UndertakingAcceptance.objects.get(user=user).undertaking.version == 1
    sent.invitation.refresh_from_db()
    assert sent.invitation.state == Invitation.State.USED and sent.invitation.used_at is not None
    assert AccountEvent.objects.filter(subject=user, type=AccountEventType.USER_ENROLLED).exists()
    assert Notification.objects.filter(user=world.supervisor, kind="onboarding_pending").exists()
    again = Client().get(f"/accounts/enrol/{token_of(sent)}/", secure=True)
    assert again.status_code == 410 and b"cannot be used" in again.content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "000000"}, b"That code is not right"),
        ({"password": "password123"}, b"too common"),
        ({"accept": False}, b"This field is required."),
    ],
)
def test_a_failed_enrolment_changes_nothing(world, change, message):
    sent = invite(world)
    response = enrol(Client(), sent, **change)
    assert response.status_code == 200 and message in response.content
    user = User.objects.get(pk=sent.user.pk)
    assert user.status == Status.INVITED and not user.has_usable_password()
    assert not RegisteredDevice.objects.filter(user=user).exists()
    assert not UndertakingAcceptance.objects.filter(user=user).exists()
    assert Invitation.objects.get(pk=sent.invitation.pk).state == Invitation.State.OPEN


def test_a_wrong_token_looks_like_any_other_bad_link(world):
    invite(world)
    for token in ("x" * 43, "short", "x" * 500):
        assert Client().get(f"/accounts/enrol/{token}/", secure=True).status_code == 410


# --- Approval -------------------------------------------------------------------------------------------


@pytest.fixture
def enrolled(world):
    sent = invite(world)
    enrol(Client(), sent)
    return User.objects.get(pk=sent.user.pk)


def test_approval_activates_the_account_and_its_first_device(world, enrolled, settings):
    onboarding_approve(user=enrolled, acting_user=world.peer_supervisor, reason="checked her ANM id")
    enrolled.refresh_from_db()
    assert enrolled.status == Status.ACTIVE
    assert RegisteredDevice.objects.get(user=enrolled).status == RegisteredDevice.Status.APPROVED
    due = enrolled.review_due_at - enrolled.status_changed_at
    assert due == timedelta(days=settings.PRAHARI_REVERIFY_DAYS_WORKER) == timedelta(days=180)
    history = enrolled.history.latest("history_date")
    assert (history.history_user, history.history_change_reason) == (world.peer_supervisor, "checked her ANM id")


def test_who_may_approve(world, enrolled, settings):
    for outsider in (world.far_supervisor, world.worker, world.colleague):
        with pytest.raises(NotPermitted):
            onboarding_approve(user=enrolled, acting_user=outsider, reason="looks fine")
    with pytest.raises(NotPermitted):
        onboarding_approve(user=enrolled, acting_user=enrolled, reason="myself")
    settings.PRAHARI_APPROVER_DIFFERS_FROM_INVITER = True
    with pytest.raises(NotPermitted, match="another supervisor must") as refused:
        onboarding_approve(user=enrolled, acting_user=world.supervisor, reason="I invited her")
    assert world.peer_supervisor.get_full_name() in str(refused.value)  # who can, never the inviter
    assert f"{world.supervisor.get_full_name()} (" not in str(refused.value)
    onboarding_approve(user=enrolled, acting_user=world.peer_supervisor, reason="four eyes")
    with pytest.raises(IllegalTransition):
        onboarding_approve(user=enrolled, acting_user=world.peer_supervisor, reason="twice")


def test_rejection_closes_the_account_and_its_device(world, enrolled):
    onboarding_reject(user=enrolled, acting_user=world.supervisor, reason="not on the staff list")
    enrolled.refresh_from_db()
    assert (enrolled.status, enrolled.is_active) == (Status.REJECTED, False)
    assert RegisteredDevice.objects.get(user=enrolled).status == RegisteredDevice.Status.REJECTED


def test_the_enrolled_worker_logs_in_after_approval(world, enrolled):
    """The browser that enrolled is the approved device: password and code lead home."""
    client = Client()
    device = RegisteredDevice.objects.get(user=enrolled)
    sign_in(client, enrolled, device=device)  # pending device: the session guard must refuse it
    assert client.get("/", secure=True).status_code == 302
    onboarding_approve(user=enrolled, acting_user=world.supervisor, reason="known to me")
    sign_in(client, User.objects.get(pk=enrolled.pk), device=device)
    assert client.get("/", secure=True).status_code == 200


# --- Offboarding ----------------------------------------------------------------------------------------


def test_offboarding_ends_sessions_revokes_devices_and_removes_otp(world):
    client = Client()
    device = sign_in(client, world.worker)
    assert UserSession.objects.filter(user=world.worker).exists()
    user_deactivate(user=world.worker, acting_user=world.supervisor, reason="transferred out of the state")
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.is_active) == (Status.DEACTIVATED, False)
    assert not UserSession.objects.filter(user=world.worker).exists()
    device.refresh_from_db()
    assert device.status == RegisteredDevice.Status.REVOKED and device.decided_by == world.supervisor
    assert not TOTPDevice.objects.filter(user=world.worker).exists()
    types = set(AccountEvent.objects.filter(subject=world.worker).values_list("type", flat=True))
    assert {
        AccountEventType.DEVICE_REVOKED,
        AccountEventType.OTP_DEVICE_REMOVED,
        AccountEventType.USER_DEACTIVATED,
    } <= types
    assert client.get("/", secure=True).status_code == 302


def test_enrolment_with_sms_codes_to_the_invited_number(world, sms_outbox):
    from django_otp.plugins.otp_totp.models import TOTPDevice as App

    from accounts.models import SMSDevice

    sent = invite(world)
    client = Client()
    url = f"/accounts/enrol/{token_of(sent)}/"
    page = client.get(url, secure=True)
    version = re.search(rb'name="undertaking_version" value="(\d+)"', page.content).group(1).decode()
    assert client.post(url, {"send_sms": "1"}, secure=True).status_code == 302
    to, text = sms_outbox[-1]
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert to == "+919876543210"
    data = {
        "password1": PASSWORD,
        "password2": PASSWORD,
        "method": "sms",
        "undertaking_version": version,
        "accept": "on",
    }
    wrong = client.post(url, {**data, "token": "000000" if code != "000000" else "111111"}, secure=True)
    assert b"That code is not right" in wrong.content
    back_off_waited(SMSDevice, sent.user)
    assert client.post(url, {**data, "token": code}, secure=True).status_code == 200
    user = User.objects.get(pk=sent.user.pk)
    assert user.status == Status.PENDING_APPROVAL
    assert SMSDevice.objects.get(user=user, confirmed=True).number == "+919876543210"
    assert not App.objects.filter(user=user).exists()  # the unchosen authenticator app is not left behind


def test_enrolment_shows_every_mistake_at_once_and_keeps_only_what_is_safe(world):
    sent = invite(world)
    client = Client()
    url = f"/accounts/enrol/{token_of(sent)}/"
    page = client.get(url, secure=True)
    version = re.search(rb'name="undertaking_version" value="(\d+)"', page.content).group(1).decode()
    data = {"password1": "password123", "password2": "password123", "method": "sms", "token": "482913"}
    response = client.post(url, {**data, "undertaking_version": version}, secure=True)
    errors = response.context["form"].errors
    assert set(errors) == {"password1", "accept", "token"}  # one round: every field at once
    assert "too common" in errors["password1"][0] and "Not checked yet" in errors["token"][0]
    html = response.content.decode()
    assert html.count('role="alert"') == 1 and 'href="#id_password1"' in html and 'href="#id_accept"' in html
    assert "password123" not in html and "482913" not in html  # passwords and codes are never shown back
    assert re.search(r'<input type="radio" name="method" value="sms"[^>]*checked', html)  # the choice is kept
    user = User.objects.get(pk=sent.user.pk)
    assert user.status == Status.INVITED and not user.has_usable_password()
    assert not AccountEvent.objects.filter(subject=user, type=AccountEventType.OTP_FAILED).exists()  # unchecked


def test_a_wrong_enrolment_code_is_said_beside_the_code_field(world):
    sent = invite(world)
    response = enrol(Client(), sent, code="000000")
    assert response.status_code == 200
    assert "That code is not right" in response.context["form"].errors["token"][0]
    html = response.content.decode()
    assert re.search(r'<input type="checkbox" name="accept"[^>]*checked', html)  # the acceptance is kept
    assert PASSWORD not in html


def test_wrong_enrolment_codes_are_counted_so_a_link_gives_no_unlimited_guesses(world):
    sent = invite(world)
    client = Client()
    for _ in range(3):
        assert b"That code is not right" in enrol(client, sent, code="000000").content
        back_off_waited(TOTPDevice, sent.user)
    TOTPDevice.objects.filter(user=sent.user).update(throttling_failure_timestamp=timezone.now())
    device = TOTPDevice.objects.get(user=sent.user, confirmed=False)
    assert device.throttling_failure_count == 3  # each failure outlived the enrolment's rolled-back writes
    right = enrol(client, sent, code=code_for(device))  # the back-off now refuses even the right code
    assert b"That code is not right" in right.content
    user = User.objects.get(pk=sent.user.pk)
    assert user.status == Status.INVITED and not user.has_usable_password()
    assert not RegisteredDevice.objects.filter(user=user).exists()


def test_an_enrolment_sms_code_is_burned_after_its_tries(world, sms_outbox, settings):
    from accounts.models import SMSDevice

    settings.PRAHARI_SMS_CODE_TRIES = 3
    sent = invite(world)
    client = Client()
    url = f"/accounts/enrol/{token_of(sent)}/"
    page = client.get(url, secure=True)
    version = re.search(rb'name="undertaking_version" value="(\d+)"', page.content).group(1).decode()
    client.post(url, {"send_sms": "1"}, secure=True)
    code = re.search(r"\b(\d{6})\b", sms_outbox[-1][1]).group(1)
    data = {"password1": PASSWORD, "password2": PASSWORD, "method": "sms", "undertaking_version": version}
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        client.post(url, {**data, "accept": "on", "token": wrong}, secure=True)
        back_off_waited(SMSDevice, sent.user)
    failed = AccountEvent.objects.filter(subject=sent.user, type=AccountEventType.OTP_FAILED).count()
    assert failed == 3
    late = client.post(url, {**data, "accept": "on", "token": code}, secure=True)
    assert b"That code is not right" in late.content
    assert User.objects.get(pk=sent.user.pk).status == Status.INVITED
