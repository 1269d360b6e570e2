"""Credentials a person changes themselves: password change and reset, OTP devices, backup codes, mobile."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts import sms
from accounts.exceptions import DomainError
from accounts.models import AccountEvent, AccountEventType, Notification, RegisteredDevice, SMSDevice, UserSession
from accounts.services import credentials, passwords
from accounts.services.devices import device_approve
from accounts.services.notifications import notification_send
from accounts.services.otp import backup_code_hash
from tests.conftest import sign_in

OLD_PASSWORD = "correct horse battery staple"  # the factories' password
NEW_PASSWORD = "a quiet river at dawn"
OLD_MOBILE, NEW_MOBILE = "+919876543210", "+918765432109"
SECURITY = "/accounts/security/"
LOGIN, CODE = "/accounts/login/", "/accounts/login/code/"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def worker(world):
    worker = world.worker
    worker.mobile, worker.email = OLD_MOBILE, "asha@example.org"
    worker.save()
    return worker


@pytest.fixture
def phone(worker):
    return TOTPDevice.objects.create(user=worker, name="phone", confirmed=True)


def totp_now(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def later(**delta):
    return freeze_time(timezone.now() + timedelta(**delta), tick=True)


def events(user, event_type) -> list[AccountEvent]:
    return list(AccountEvent.objects.filter(subject=user, type=event_type))


def signed_in_as(client) -> str | None:
    response = client.get("/")
    return response.context["user"].username if response.status_code == 200 else None


def last_code(number: str) -> str:
    texts = [text for to, text in sms.outbox if to == number]
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def without_csrf(body: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


# --- Password change --------------------------------------------------------------------------------


def post_change(client, old=OLD_PASSWORD, new=NEW_PASSWORD, again=None):
    data = {"old_password": old, "new_password1": new, "new_password2": again or new}
    return client.post("/accounts/password/", data)


def test_password_change_ends_other_sessions_but_keeps_this_one(worker, client):
    sign_in(client, worker)
    elsewhere = Client()
    sign_in(elsewhere, worker)
    elsewhere_key = elsewhere.session.session_key
    assert UserSession.objects.filter(user=worker).count() == 2

    response = post_change(client)

    assert response.status_code == 302 and response["Location"] == "/"
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)
    assert signed_in_as(client) == "asha"
    assert not UserSession.objects.filter(session_key=elsewhere_key).exists()
    assert UserSession.objects.filter(user=worker).count() == 1
    assert signed_in_as(elsewhere) is None
    (event,) = events(worker, AccountEventType.PASSWORD_CHANGED)
    assert event.data == {"sessions_ended": 1}
    assert NEW_PASSWORD not in json.dumps(event.data) + event.reason
    assert Notification.objects.filter(user=worker, kind="password_changed").count() == 2  # SMS and e-mail


def test_a_wrong_current_password_is_a_form_error_and_counts_as_a_failure(worker, client):
    sign_in(client, worker)
    response = post_change(client, old="not my password at all")
    assert response.status_code == 200
    assert "Your current password is not right." in response.content.decode()
    worker.refresh_from_db()
    assert worker.check_password(OLD_PASSWORD)
    failures = events(worker, AccountEventType.LOGIN_FAILED)
    assert [e.data["category"] for e in failures] == ["password_change"]
    assert not events(worker, AccountEventType.PASSWORD_CHANGED)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short", "This password is too short"),
        ("password123", "This password is too common"),
        ("my lucknow clinic pass", "contains a word others can guess"),
    ],
)
def test_a_weak_new_password_shows_the_validator_message(worker, client, new, message):
    sign_in(client, worker)
    response = post_change(client, new=new)
    assert response.status_code == 200
    assert message in response.content.decode()
    worker.refresh_from_db()
    assert worker.check_password(OLD_PASSWORD)


# --- Password reset ---------------------------------------------------------------------------------


def request_reset(client, value):
    return client.post("/accounts/password-reset/", {"username_or_email": value})


def reset_path(user) -> str:
    row = Notification.objects.filter(user=user, kind="password_reset_link", channel="sms").latest("pk")
    return urlsplit(row.context["url"]).path


def post_reset(client, path, code, method="totp", password=NEW_PASSWORD):
    data = {"new_password1": password, "new_password2": password, "method": method, "token": code}
    return client.post(path, data)


def test_reset_request_looks_the_same_for_unknown_and_known_accounts(worker):
    answers = {}
    for value in ("nobody-here", "ASHA", "asha@example.org"):
        client = Client()
        response = request_reset(client, value)
        page = client.get(response["Location"])
        answers[value] = (response.status_code, response["Location"], page.status_code, without_csrf(page.content))
    assert answers["nobody-here"] == answers["ASHA"] == answers["asha@example.org"]
    assert answers["ASHA"][:3] == (302, "/accounts/password-reset/sent/", 200)

    rows = Notification.objects.filter(kind="password_reset_link")
    assert {(r.user, r.channel, r.to) for r in rows} == {
        (worker, "sms", OLD_MOBILE),
        (worker, "email", "asha@example.org"),
    }
    assert rows.count() == 4  # two requests (username, e-mail) × two channels; none for the unknown one
    assert len(events(worker, AccountEventType.PASSWORD_RESET_REQUESTED)) == 2

    email_row = rows.filter(channel="email").first()
    assert notification_send(notification_id=email_row.pk)
    body = mail.outbox[0].body  # in the worker's language, Hindi
    assert reset_path(worker) in body and "30 मिनट" in body


def test_reset_links_to_one_account_are_limited_per_window(worker):
    for _ in range(5):
        passwords.password_reset_request(username_or_email="asha", base_url="https://prahari.test", ip=None)
    assert Notification.objects.filter(kind="password_reset_link", channel="sms").count() == 3
    sent = [e.data["sent"] for e in events(worker, AccountEventType.PASSWORD_RESET_REQUESTED)]
    assert sorted(sent) == [False, False, True, True, True]


def test_reset_link_expires_after_30_minutes(worker, phone, client):
    # One frozen clock for making and checking the token (Django's token generator uses naive local time).
    with freeze_time(timezone.now(), tick=True) as clock:
        request_reset(client, "asha")
        path = reset_path(worker)
        clock.tick(timedelta(minutes=29))
        assert client.get(path).status_code == 200
        clock.tick(timedelta(minutes=2))
        response = client.get(path)
        assert response.status_code == 400
        assert "invalid or has expired" in response.content.decode()
        assert post_reset(client, path, totp_now(phone)).status_code == 400
    worker.refresh_from_db()
    assert worker.check_password(OLD_PASSWORD)


def test_reset_without_the_right_code_changes_nothing(worker, phone, client):
    elsewhere = Client()
    sign_in(elsewhere, worker)
    request_reset(client, "asha")
    path = reset_path(worker)
    wrong = "000000" if totp_now(phone) != "000000" else "111111"

    for code, message in ((wrong, "That code is not right"), ("", "Enter the one-time code")):
        response = post_reset(client, path, code)
        assert response.status_code == 200 and message in response.content.decode()

    worker.refresh_from_db()
    assert worker.check_password(OLD_PASSWORD)
    assert signed_in_as(elsewhere) == "asha"
    assert not events(worker, AccountEventType.PASSWORD_RESET)
    assert [e.data["category"] for e in events(worker, AccountEventType.OTP_FAILED)] == ["otp_reset"]
    assert client.get(path).status_code == 200  # the link is still good for a right code


def test_reset_with_a_right_code_sets_the_password_ends_every_session_and_works_once(worker, phone, client):
    elsewhere = Client()
    sign_in(elsewhere, worker)
    request_reset(client, "asha")
    path = reset_path(worker)

    response = post_reset(client, path, totp_now(phone))

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "Sign in with your new password" in client.get(LOGIN).content.decode()
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)
    assert not UserSession.objects.filter(user=worker).exists()
    assert signed_in_as(elsewhere) is None
    assert signed_in_as(client) is None  # no automatic login: the normal login follows
    (event,) = events(worker, AccountEventType.PASSWORD_RESET)
    assert event.data == {"sessions_ended": 1}
    assert Notification.objects.filter(user=worker, kind="password_changed").exists()

    with later(seconds=31):  # a new TOTP step: only the link can refuse now
        again = client.get(path)
        assert again.status_code == 400 and "invalid or has expired" in again.content.decode()
        assert post_reset(client, path, totp_now(phone), password="another long passphrase").status_code == 400
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)


def test_reset_by_sms_code_bound_to_the_link(worker, client):
    SMSDevice.objects.create(user=worker, name="mobile", number=OLD_MOBILE, confirmed=True)
    request_reset(client, "asha")
    path = reset_path(worker)
    assert client.post(path, {"send_sms": "1"}).status_code == 302
    response = post_reset(client, path, last_code(OLD_MOBILE), method="sms")
    assert response.status_code == 302
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)


def test_reset_refused_while_the_account_is_locked(worker, phone, client, settings):
    request_reset(client, "asha")
    path = reset_path(worker)
    wrong = "000000" if totp_now(phone) != "000000" else "111111"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_reset(client, path, wrong)
    assert events(worker, AccountEventType.LOCKED_OUT)
    response = post_reset(client, path, totp_now(phone))
    assert response.status_code == 200 and "Too many failed attempts" in response.content.decode()
    worker.refresh_from_db()
    assert worker.check_password(OLD_PASSWORD)


def test_reset_needs_an_otp_device(worker, client):
    request_reset(client, "asha")
    response = client.get(reset_path(worker))
    assert response.status_code == 403 and "Ask your supervisor" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password-reset/garbage/garbage/",
        "/accounts/password-reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/set-password/",  # a pk beyond any integer
        "/accounts/password-reset/MQ/not-a-token/",
    ],
)
def test_a_bad_reset_link_is_a_clear_400(worker, client, path):
    for response in (client.get(path), post_reset(client, path, "123456")):
        assert response.status_code == 400
        assert "invalid or has expired" in response.content.decode()


# --- Security page: fresh login ---------------------------------------------------------------------

CHANGES = [
    ("/accounts/security/backup-codes/", {}),
    ("/accounts/security/app/add/", {}),
    ("/accounts/security/sms/add/", {}),
    ("/accounts/security/sms/confirm/", {"sms-token": "123456"}),
    ("/accounts/security/backup/remove/", {}),
    ("/accounts/security/mobile/", {"new_mobile": NEW_MOBILE}),
    ("/accounts/security/mobile/confirm/", {"mobile-token": "123456"}),
]


@pytest.mark.parametrize(("path", "data"), CHANGES)
def test_security_changes_need_a_fresh_login(worker, client, path, data):
    sign_in(client, worker)
    with later(minutes=6):
        response = client.post(path, data)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN + "?next=/accounts/security")
        assert signed_in_as(client) is None
        page = client.get(response["Location"])
    assert "For your safety, sign in again to change this" in page.content.decode()
    assert not UserSession.objects.filter(user=worker).exists()
    assert events(worker, AccountEventType.SESSIONS_ENDED)[0].data["reason"] == "reauthenticate"
    assert not StaticDevice.objects.filter(user=worker).exists()
    assert not SMSDevice.objects.filter(user=worker).exists()
    assert TOTPDevice.objects.filter(user=worker).count() == 1
    assert sms.outbox == []


def test_security_changes_allowed_within_five_minutes(worker, client):
    sign_in(client, worker)
    with later(minutes=4):
        response = client.post("/accounts/security/backup-codes/")
        assert response.status_code == 200
        assert signed_in_as(client) == "asha"
    assert StaticToken.objects.filter(device__user=worker).count() == 10


def test_the_security_page_itself_shows_without_a_fresh_login(worker, client):
    sign_in(client, worker)
    with later(minutes=6):
        response = client.get(SECURITY)
    assert response.status_code == 200
    body = response.content.decode()
    assert "need a sign-in within the last 5 minutes" in body
    assert OLD_MOBILE not in body and "+91******3210" in body


@pytest.mark.parametrize(("language", "words"), [("en", "SMS codes are the weaker way"), ("hi", "कमज़ोर तरीका")])
def test_the_security_page_says_sms_codes_are_the_weaker_factor(worker, client, language, words):
    SMSDevice.objects.filter(user=worker).delete()
    sign_in(client, worker)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    assert words in client.get(SECURITY).content.decode()  # SMS off: the page says so before it is turned on
    SMSDevice.objects.create(user=worker, name="sms", number=worker.mobile, confirmed=True)
    body = client.get(SECURITY).content.decode()
    assert words in body and 'id="sms-weaker"' in body  # and while it is on


# --- OTP devices -------------------------------------------------------------------------------------


def test_removing_the_last_way_to_get_a_code_is_refused(worker, client):
    sign_in(client, worker)  # an authenticator app, nothing else
    StaticDevice.objects.create(user=worker, name="backup codes", confirmed=True)
    response = client.post("/accounts/security/totp/remove/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "only way to receive a sign-in code" in page.content.decode()
    assert TOTPDevice.objects.filter(user=worker, confirmed=True).exists()
    assert not events(worker, AccountEventType.OTP_DEVICE_REMOVED)
    with pytest.raises(DomainError, match="only way"):
        credentials.otp_device_remove(user=worker, method="totp", ip=None)


def test_removing_the_app_when_sms_remains_notifies_and_asks_for_a_new_sign_in(worker, client):
    sign_in(client, worker)
    SMSDevice.objects.create(user=worker, name="mobile", number=OLD_MOBILE, confirmed=True)
    response = client.post("/accounts/security/totp/remove/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not TOTPDevice.objects.filter(user=worker).exists()
    (event,) = events(worker, AccountEventType.OTP_DEVICE_REMOVED)
    assert event.data == {"method": "totp"}
    notice = Notification.objects.get(user=worker, kind="otp_device_changed", channel="sms")
    assert notice.context == {"action": "removed"}
    assert signed_in_as(client) is None  # this session was verified with the removed app


def test_sms_codes_are_turned_on_only_after_the_mobile_is_proven(worker, client):
    sign_in(client, worker)
    assert client.post("/accounts/security/sms/add/").status_code == 302
    device = SMSDevice.objects.get(user=worker)
    assert not device.confirmed and device.number == OLD_MOBILE
    code = last_code(OLD_MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    client.post("/accounts/security/sms/confirm/", {"sms-token": wrong})
    device.refresh_from_db()
    assert not device.confirmed
    with later(seconds=5):  # past the back-off after one wrong try
        client.post("/accounts/security/sms/confirm/", {"sms-token": code})
    device.refresh_from_db()
    assert device.confirmed
    assert events(worker, AccountEventType.OTP_DEVICE_ADDED)[0].data == {"method": "sms"}
    assert Notification.objects.filter(user=worker, kind="otp_device_changed", context={"action": "added"}).exists()


def test_an_authenticator_app_is_added_with_a_code_from_it(worker, client):
    by_sms = SMSDevice.objects.create(user=worker, name="mobile", number=OLD_MOBILE, confirmed=True)
    sign_in(client, worker)
    TOTPDevice.objects.filter(user=worker).delete()  # the app sign_in made: as if signed in by SMS
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = by_sms.persistent_id
    session.save()
    assert client.post("/accounts/security/app/add/")["Location"] == "/accounts/security/app/"
    page = client.get("/accounts/security/app/")
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.content.decode()
    device = TOTPDevice.objects.get(user=worker, confirmed=False)
    assert client.post("/accounts/security/app/", {"totp-token": totp_now(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert events(worker, AccountEventType.OTP_DEVICE_ADDED)[0].data == {"method": "totp"}


# --- Backup codes ------------------------------------------------------------------------------------

BACKUP_CODE = re.compile(r"<code>([a-z2-7]{6}(?:-[a-z2-7]{6}){3})</code>")


def backup_login(client, user, code):
    client.post(LOGIN, {"username": user.username, "password": OLD_PASSWORD})
    return client.post(CODE, {"method": "totp", "token": "", "backup_code": code})


def test_backup_codes_are_shown_once_stored_hashed_and_each_works_once_at_login(worker, phone, client, world):
    # The real flow: register this browser, have it approved, sign in with the app.
    client.post(LOGIN, {"username": "asha", "password": OLD_PASSWORD})
    client.post(CODE, {"method": "totp", "token": totp_now(phone)})
    device = RegisteredDevice.objects.get(user=worker, status="pending")
    device_approve(device=device, acting_user=world.supervisor, reason="confirmed code by phone")
    with later(seconds=31):
        client.post(LOGIN, {"username": "asha", "password": OLD_PASSWORD})
        assert client.post(CODE, {"method": "totp", "token": totp_now(phone)}).status_code == 302
        response = client.post("/accounts/security/backup-codes/")
        codes = BACKUP_CODE.findall(response.content.decode())
        assert len(codes) == 10 and len(set(codes)) == 10
        assert not any(code in client.get(SECURITY).content.decode() for code in codes)
        assert client.get("/accounts/security/backup-codes/").status_code == 405
        client.post("/accounts/logout/")

    stored = set(StaticToken.objects.filter(device__user=worker).values_list("token", flat=True))
    assert stored == {backup_code_hash(code) for code in codes}
    assert not stored & {c for code in codes for c in (code, code.replace("-", ""))}
    assert events(worker, AccountEventType.BACKUP_CODES_GENERATED)

    with later(seconds=62):
        assert backup_login(client, worker, codes[0]).status_code == 302
        assert signed_in_as(client) == "asha"
        client.post("/accounts/logout/")
        replay = backup_login(client, worker, codes[0])
        assert replay.status_code == 200 and "That code is not right" in replay.content.decode()
        assert signed_in_as(client) is None
    with later(seconds=70):  # past the back-off of the failed try
        assert backup_login(client, worker, codes[1]).status_code == 302
    assert StaticToken.objects.filter(device__user=worker).count() == 8


# --- Mobile number -----------------------------------------------------------------------------------


def test_mobile_change_proves_the_new_number_and_notifies_both_numbers(worker, client, caplog):
    caplog.set_level(logging.DEBUG)
    sms_device = SMSDevice.objects.create(user=worker, name="mobile", number=OLD_MOBILE, confirmed=True)
    sign_in(client, worker)

    assert client.post("/accounts/security/mobile/", {"new_mobile": NEW_MOBILE}).status_code == 302
    worker.refresh_from_db()
    assert worker.mobile == OLD_MOBILE  # not before the code from the new number
    response = client.post("/accounts/security/mobile/confirm/", {"mobile-token": last_code(NEW_MOBILE)})
    assert response.status_code == 302

    worker.refresh_from_db()
    sms_device.refresh_from_db()
    assert worker.mobile == NEW_MOBILE and sms_device.number == NEW_MOBILE
    history = worker.history.first()
    assert (history.mobile, history.history_user, history.history_change_reason) == (
        NEW_MOBILE,
        worker,
        "mobile number changed by the account holder",
    )
    notices = Notification.objects.filter(user=worker, kind="mobile_changed")
    assert {(n.channel, n.to) for n in notices} == {
        ("sms", OLD_MOBILE),
        ("sms", NEW_MOBILE),
        ("email", "asha@example.org"),
    }
    assert all(n.context == {"masked": "+91******2109"} for n in notices)
    (event,) = events(worker, AccountEventType.MOBILE_CHANGED)
    assert event.data == {"old": "+91******3210", "new": "+91******2109"}
    every_event = json.dumps([[e.data, e.reason] for e in AccountEvent.objects.all()])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for number in (OLD_MOBILE, NEW_MOBILE, OLD_MOBILE[3:], NEW_MOBILE[3:]):
        assert number not in every_event
        assert number not in logged


def test_a_wrong_code_or_a_taken_number_changes_nothing(worker, client, world):
    world.colleague.mobile = "+917000000001"
    world.colleague.save()
    sign_in(client, worker)
    taken = client.post("/accounts/security/mobile/", {"new_mobile": "+917000000001"})
    assert taken.status_code == 200 and "belongs to another account" in taken.content.decode()
    bad = client.post("/accounts/security/mobile/", {"new_mobile": "98765 43210"})
    assert bad.status_code == 200 and "+91 followed by 10 digits" in bad.content.decode()
    assert sms.outbox == []

    client.post("/accounts/security/mobile/", {"new_mobile": NEW_MOBILE})
    code = last_code(NEW_MOBILE)
    client.post("/accounts/security/mobile/confirm/", {"mobile-token": "000000" if code != "000000" else "111111"})
    worker.refresh_from_db()
    assert worker.mobile == OLD_MOBILE
    assert not events(worker, AccountEventType.MOBILE_CHANGED)
    assert not Notification.objects.filter(kind="mobile_changed").exists()


def test_mobile_change_service_refuses_bad_numbers(worker, world):
    world.colleague.mobile = NEW_MOBILE
    world.colleague.save()
    for number, message in [("12345", "10 digits"), (NEW_MOBILE, "another account"), (OLD_MOBILE, "already")]:
        with pytest.raises(DomainError, match=message):
            credentials.mobile_change(user=worker, new_mobile=number, ip=None)
    assert check_password(OLD_PASSWORD, worker.password)


def test_a_code_for_a_new_number_is_burned_after_five_wrong_tries(worker, client, settings):
    sign_in(client, worker)
    client.post("/accounts/security/mobile/", {"new_mobile": NEW_MOBILE})
    code = last_code(NEW_MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    with freeze_time(timezone.now(), tick=True) as clock:
        for _ in range(settings.PRAHARI_SMS_CODE_TRIES):
            clock.tick(timedelta(seconds=40))  # past each back-off: only the count of tries may refuse
            client.post("/accounts/security/mobile/confirm/", {"mobile-token": wrong})
        clock.tick(timedelta(seconds=40))
        client.post("/accounts/security/mobile/confirm/", {"mobile-token": code})
    worker.refresh_from_db()
    assert worker.mobile == OLD_MOBILE
    failures = events(worker, AccountEventType.OTP_FAILED)
    assert len(failures) == settings.PRAHARI_SMS_CODE_TRIES + 1
    assert {e.data["category"] for e in failures} == {"mobile_change_sms"}
