"""SMS codes, backup codes, the choice of methods and first enrolment, through the real login pages."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts import sms
from accounts.models import AccountEvent, AccountEventType, RegisteredDevice, SMSDevice
from accounts.services.otp import backup_code_hash, backup_codes_generate, otp_sms_send, otp_verify
from tests.accounts.test_login_flow import (
    CODE,
    LOGIN,
    post_code,
    post_password,
    signed_in_as,
    totp_now,
)
from tests.accounts.test_login_flow import approved as approved  # the fixtures, reused
from tests.accounts.test_login_flow import phone as phone

MOBILE = "+919876543210"
REFUSED = "That code is not right, or it has expired."
ENROL = "/accounts/login/enrol/"


@pytest.fixture
def outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def mobile(world, outbox):
    """asha also receives codes by SMS."""
    return SMSDevice.objects.create(user=world.worker, name="mobile", number=MOBILE, confirmed=True)


def start(client, username="asha"):
    """The password step: the browser is now on the code page of a fresh login attempt."""
    response = post_password(client, username)
    assert response.status_code == 302 and response["Location"] == CODE
    return response


def ask_code(client) -> str:
    """Press "Send me a code by SMS" and read the code off the simulated phone."""
    before = len(sms.outbox)
    response = client.post(CODE, {"send_sms": ""})
    assert response.status_code == 302 and response["Location"] == CODE
    assert len(sms.outbox) == before + 1, "no SMS was sent"
    return last_code()


def last_code() -> str:
    to, text = sms.outbox[-1]
    assert to == MOBILE
    return re.fullmatch(r"Prahari code (\d{6})\. .*", text).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def offered(form) -> list[str]:
    """The methods the code page offers: the select's, then backup codes (a field of their own)."""
    return [value for value, _label in form.fields["method"].choices] + ["backup"] * ("backup_code" in form.fields)


def accepted(response) -> bool:
    """Both factors proven on an approved browser: signed in and sent home."""
    return response.status_code == 302 and response["Location"] == "/"


def refused(response) -> bool:
    return response.status_code == 200 and REFUSED in response.content.decode()


def second_browser(client) -> Client:
    """Another browser of asha's that carries the same (approved) device cookie."""
    other = Client()
    other.cookies[settings.DEVICE_COOKIE_NAME] = client.cookies[settings.DEVICE_COOKIE_NAME].value
    return other


# --- SMS codes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_sms_code_signs_in_once(world, approved, mobile):
    start(approved)
    code = ask_code(approved)
    assert accepted(post_code(approved, code, "sms"))
    assert signed_in_as(approved) == "asha"
    approved.post("/accounts/logout/")
    start(approved)
    assert refused(post_code(approved, code, "sms"))
    assert signed_in_as(approved) is None


@pytest.mark.django_db
def test_an_sms_code_is_single_use_even_within_its_own_attempt(world, mobile):
    otp_sms_send(user=world.worker, attempt_id="attempt-1", ip=None)
    code = last_code()
    assert otp_verify(user=world.worker, method="sms", token=code, attempt_id="attempt-1") is not None
    assert otp_verify(user=world.worker, method="sms", token=code, attempt_id="attempt-1") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("after", "ok"), [(timedelta(minutes=4, seconds=59), True), (timedelta(minutes=5, seconds=1), False)]
)
def test_an_sms_code_lives_five_minutes(world, approved, mobile, after, ok):
    with freeze_time(timezone.now()) as clock:
        start(approved)
        code = ask_code(approved)
        clock.tick(after)
        response = post_code(approved, code, "sms")
    assert accepted(response) is ok
    assert refused(response) is not ok


@pytest.mark.django_db
def test_an_sms_code_belongs_to_the_attempt_it_was_sent_for(world, approved, mobile):
    other = second_browser(approved)
    with freeze_time(timezone.now()) as clock:
        start(approved)
        start(other)
        first = ask_code(approved)
        assert refused(post_code(other, first, "sms")), "a code sent for one attempt worked in another"
        clock.tick(timedelta(seconds=20))  # past django-otp's back-off after a failure
        second = ask_code(other)
        assert refused(post_code(approved, second, "sms")), "a code sent for another attempt worked"
        clock.tick(timedelta(seconds=20))
        assert accepted(post_code(other, second, "sms"))  # the code itself was good, for its own attempt
    assert signed_in_as(other) == "asha"


@pytest.mark.django_db
@pytest.mark.parametrize(("wrong_tries", "ok"), [(4, True), (5, False)])
def test_five_wrong_tries_burn_sms_codes_for_the_attempt_and_a_new_code_does_not_reset_them(
    world, approved, mobile, wrong_tries, ok
):
    with freeze_time(timezone.now()) as clock:
        start(approved)
        code = ask_code(approved)
        for _ in range(wrong_tries):
            assert refused(post_code(approved, wrong(code), "sms"))
            clock.tick(timedelta(seconds=20))  # past django-otp's back-off (1, 2, 4, 8, 16 s)
        fresh = ask_code(approved)  # a new code keeps the failure count
        response = post_code(approved, fresh, "sms")
    assert accepted(response) is ok
    assert refused(response) is not ok
    assert SMSDevice.objects.get(pk=mobile.pk).throttling_failure_count == (0 if ok else wrong_tries)


@pytest.mark.django_db
def test_a_new_login_attempt_has_five_tries_again(world, approved, mobile):
    """The burned codes bind the attempt, not the account: SMS must not stay dead after one bad attempt."""
    with freeze_time(timezone.now()) as clock:
        start(approved)
        code = ask_code(approved)
        for _ in range(5):
            assert refused(post_code(approved, wrong(code), "sms"))
            clock.tick(timedelta(seconds=20))
        start(approved)  # the password again: a new attempt
        assert accepted(post_code(approved, ask_code(approved), "sms"))


@pytest.mark.django_db
def test_at_most_three_sms_per_account_in_fifteen_minutes(world, approved, mobile):
    other = second_browser(approved)
    with freeze_time(timezone.now()) as clock:
        start(approved)
        start(other)
        ask_code(approved)
        ask_code(other)  # per account: both attempts draw on the same allowance
        clock.tick(timedelta(minutes=1))
        ask_code(approved)
        for browser in (approved, other):
            page = browser.post(CODE, {"send_sms": ""}, follow=True)
            assert "Too many codes were sent. Wait 15 minutes, or use your authenticator app." in page.content.decode()
        assert len(sms.outbox) == 3
        clock.tick(timedelta(minutes=13, seconds=59))  # 14:59 after the first two sends
        start(approved)
        approved.post(CODE, {"send_sms": ""})
        assert len(sms.outbox) == 3
        clock.tick(timedelta(seconds=2))  # 15:01: the first two sends have left the window
        code = ask_code(approved)
        assert accepted(post_code(approved, code, "sms"))
    assert AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.OTP_SMS_SENT).count() == 4


@pytest.mark.django_db
def test_the_sms_holds_the_code_but_no_event_log_or_attempt_record_does(world, approved, mobile, caplog):
    caplog.set_level(logging.DEBUG)
    other = second_browser(approved)
    with freeze_time(timezone.now()) as clock:
        start(approved)
        start(other)
        code = ask_code(approved)
        typo = wrong(code)
        assert refused(post_code(other, code, "sms"))  # the right code, in the wrong attempt: a failure
        clock.tick(timedelta(seconds=20))
        assert refused(post_code(approved, typo, "sms"))
        secret = re.compile(rf"(?<!\d)({code}|{typo})(?!\d)")
        attempts = list(AccessAttempt.objects.all())  # a success deletes them: read them now
        assert sum(a.failures_since_start for a in attempts) == 2
        for attempt in attempts:
            assert "token=" in attempt.post_data  # the field is recorded, its value masked
            assert not secret.search(attempt.get_data + attempt.post_data + attempt.path_info)
        clock.tick(timedelta(seconds=20))
        assert accepted(post_code(approved, code, "sms"))
    assert code in sms.outbox[0][1]
    for event in AccountEvent.objects.all():
        assert not secret.search(f"{event.reason} {event.data} {event.ip_address}"), event.get_type_display()
    assert AccessFailureLog.objects.count() == 2
    for failure in AccessFailureLog.objects.all():
        assert not secret.search(f"{failure.username} {failure.path_info} {failure.user_agent}")
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    for record in caplog.records:
        assert not secret.search(record.getMessage()), record.name


# --- Backup codes ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_backup_codes_are_ten_of_at_least_112_bits_and_only_their_hashes_are_stored(world):
    codes = backup_codes_generate(user=world.worker)
    assert len(codes) == settings.PRAHARI_BACKUP_CODES == 10
    assert len(set(codes)) == 10
    for code in codes:
        symbols = code.replace("-", "")
        assert re.fullmatch(r"[a-z2-7]+", symbols), code  # base32: 5 bits per symbol
        assert len(symbols) * 5 >= 112  # ASVS V6.5.2: a fast hash needs 112 bits or more
    stored = list(StaticToken.objects.filter(device__user=world.worker).values_list("token", flat=True))
    assert sorted(stored) == sorted(backup_code_hash(code) for code in codes)
    for code in codes:
        for form in (code, code.replace("-", ""), code.upper()):
            assert not any(form.lower() in token.lower() for token in stored), "a backup code is stored in clear"
    assert codes != backup_codes_generate(user=world.worker)  # new codes replace the old ones
    assert StaticToken.objects.filter(device__user=world.worker).count() == 10


@pytest.mark.django_db
def test_each_backup_code_signs_in_once(world, approved):
    codes = backup_codes_generate(user=world.worker)
    start(approved)
    assert accepted(post_code(approved, codes[0], "backup"))
    assert signed_in_as(approved) == "asha"
    approved.post("/accounts/logout/")
    start(approved)
    with freeze_time(timezone.now()) as clock:
        assert refused(post_code(approved, codes[0], "backup"))
        clock.tick(timedelta(seconds=2))  # past django-otp's back-off after a failure
        assert accepted(post_code(approved, codes[1].upper().replace("-", ""), "backup"))  # typed as read
        device = StaticDevice.objects.get(user=world.worker)
        for code in codes[2:]:
            assert otp_verify(user=world.worker, method="backup", token=code, attempt_id="x") == device
            assert otp_verify(user=world.worker, method="backup", token=code, attempt_id="x") is None
            clock.tick(timedelta(seconds=2))
    assert not StaticToken.objects.filter(device=device).exists()
    approved.post("/accounts/logout/")
    start(approved)
    used_up = post_code(approved, codes[0], "backup")
    assert used_up.status_code == 200 and "No backup code is left on this account" in used_up.content.decode()
    assert signed_in_as(approved) is None
    methods = offered(approved.get(CODE).context["form"])
    assert methods == ["totp"]  # used up: backup codes are no longer offered


# --- Which methods, and a first enrolment ---------------------------------------------------------


@pytest.mark.django_db
def test_email_codes_are_not_offered_by_default(world, approved, mobile):
    backup_codes_generate(user=world.worker)
    start(approved)
    page = approved.get(CODE)
    methods = offered(page.context["form"])
    assert methods == ["totp", "sms", "backup"]
    assert not re.search(r'<option value="e-?mail"', page.content.decode(), re.IGNORECASE)
    response = approved.post(CODE, {"method": "email", "token": "123456"})
    assert response.status_code == 200 and "method" in response.context["form"].errors
    assert signed_in_as(approved) is None
    assert settings.PRAHARI_OTP_EMAIL_ENABLED is False  # the default; tests/accounts/test_login_email_codes.py


@pytest.mark.django_db
def test_a_refused_code_shows_the_page_again_with_every_method(world, approved, phone, mobile):
    """The code step reads only the chosen method's device to check a code: the page shown again still
    offers every method, and a method the account lacks is a form error, not a counted failure."""
    backup_codes_generate(user=world.worker)
    start(approved)
    response = post_code(approved, wrong(totp_now(phone)), "totp")
    assert refused(response)
    methods = offered(response.context["form"])
    assert methods == ["totp", "sms", "backup"]
    assert response.context["has_sms"] and 'name="send_sms"' in response.content.decode()
    assert AccessAttempt.objects.get(username="asha").failures_since_start == 1
    SMSDevice.objects.filter(user=world.worker).delete()
    response = approved.post(CODE, {"method": "sms", "token": "123456"})
    assert response.status_code == 200 and "method" in response.context["form"].errors
    methods = offered(response.context["form"])
    assert methods == ["totp", "backup"] and not response.context["has_sms"]
    assert AccessAttempt.objects.get(username="asha").failures_since_start == 1
    phone.delete()  # an authenticator's device is read only as its code is checked: the same answer
    response = approved.post(CODE, {"method": "totp", "token": "123456"})
    assert response.status_code == 200 and "method" in response.context["form"].errors
    assert offered(response.context["form"]) == ["backup"]
    assert AccessAttempt.objects.get(username="asha").failures_since_start == 1


@pytest.mark.django_db
def test_an_account_without_an_authenticator_must_enrol_first_and_reaches_nothing_else(world, client):
    ravi = world.colleague
    assert not TOTPDevice.objects.filter(user=ravi).exists()
    start(client, "ravi")
    assert client.get(CODE)["Location"] == ENROL
    page = client.get(ENROL)
    assert page.status_code == 200
    assert re.search(r'<img class="qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]{100,}"', page.content.decode())
    for path in ("/", "/admin/", "/accounts/step-up/"):
        response = client.get(path, follow=True)
        assert response.redirect_chain, path
        assert response.request["PATH_INFO"] == LOGIN, path
    assert signed_in_as(client) is None

    device = TOTPDevice.objects.get(user=ravi, confirmed=False)
    with freeze_time(timezone.now()) as clock:
        response = client.post(ENROL, {"token": totp_now(device, offset_steps=-3)})  # outside the drift tolerance
        assert response.status_code == 200 and "That code is not right" in response.content.decode()
        device.refresh_from_db()
        assert not device.confirmed
        clock.tick(timedelta(seconds=2))  # past django-otp's back-off after a failure
        response = client.post(ENROL, {"token": totp_now(device)})
    device.refresh_from_db()
    assert device.confirmed
    assert AccountEvent.objects.filter(subject=ravi, type=AccountEventType.OTP_DEVICE_ADDED).exists()
    # On to the device check: a new browser waits for the supervisor.
    assert response.status_code == 403
    assert RegisteredDevice.objects.get(user=ravi).status == "pending"
    assert "accounts/login_device_pending.html" in [t.name for t in response.templates]
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_an_sms_gateway_failure_is_a_clear_message_not_an_error_page(world, approved, mobile, settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = "http://127.0.0.1:9/unreachable"  # nothing listens on the discard port
    settings.SMS_HTTP_TOKEN = "test-token"
    start(approved)
    response = approved.post(CODE, {"send_sms": "1"}, follow=True)
    assert response.status_code == 200
    assert "The SMS could not be sent just now" in response.content.decode()
