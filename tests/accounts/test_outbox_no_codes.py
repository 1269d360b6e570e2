"""A one-time code goes to the phone or the mailbox only: never into the outbox (whose rows support staff can
read in the console) nor into an account event, whatever sent it (SECURITY.md §Audit: never an OTP code)."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.forms.models import model_to_dict
from django_otp.plugins.otp_email.models import EmailDevice

from accounts import sms
from accounts.models import AccountEvent, Notification, SMSDevice
from accounts.services.credentials import (
    mobile_change_confirm,
    mobile_change_start,
    sms_device_enrol_confirm,
    sms_device_enrol_start,
)
from accounts.services.otp import otp_email_send, otp_sms_send

pytestmark = pytest.mark.django_db
OLD_MOBILE, NEW_MOBILE = "+919812300001", "+919812300002"


@pytest.fixture
def worker(world, settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    world.worker.mobile, world.worker.email = OLD_MOBILE, "asha@example.org"
    world.worker.save()
    yield world.worker
    sms.outbox.clear()


def _sms_code(to: str) -> str:
    number, text = sms.outbox[-1]
    assert number == to
    return re.search(r"\b(\d{6})\b", text).group(1)


def _stored_text() -> str:
    """Every field of every outbox row and every account event, as one text to search."""
    rows = [model_to_dict(n) for n in Notification.objects.all()]
    rows += [{"reason": e.reason, "data": e.data} for e in AccountEvent.objects.all()]
    return json.dumps(rows, default=str)


def _assert_nowhere(codes: list[str]) -> None:
    stored = _stored_text()
    assert [code for code in codes if code in stored] == []


def test_login_and_step_up_sms_codes_stay_out_of_the_outbox(worker):
    SMSDevice.objects.create(user=worker, name="mobile", number=OLD_MOBILE, confirmed=True)
    codes = []
    for attempt in ("login-attempt", "step-up-attempt", "step-up-attempt"):  # a new code for the same attempt too
        otp_sms_send(user=worker, attempt_id=attempt, ip="10.0.0.7")
        codes.append(_sms_code(OLD_MOBILE))
    _assert_nowhere(codes)


def test_email_codes_stay_out_of_the_outbox(worker, settings):
    settings.PRAHARI_OTP_EMAIL_ENABLED = True
    EmailDevice.objects.create(user=worker, name="mail", confirmed=True, email=worker.email)
    otp_email_send(user=worker, ip="10.0.0.7")
    assert len(mail.outbox) == 1
    code = re.search(r"\b(\d{6})\b", mail.outbox[0].body).group(1)
    _assert_nowhere([code])


def test_codes_proving_a_number_stay_out_of_the_notices_they_lead_to(worker):
    sms_device_enrol_start(user=worker, ip="10.0.0.7")
    enrol_code = _sms_code(OLD_MOBILE)
    assert sms_device_enrol_confirm(user=worker, token=enrol_code, ip="10.0.0.7")
    mobile_change_start(user=worker, new_mobile=NEW_MOBILE, ip="10.0.0.7")
    change_code = _sms_code(NEW_MOBILE)
    assert mobile_change_confirm(user=worker, token=change_code, ip="10.0.0.7")
    kinds = set(Notification.objects.filter(user=worker).values_list("kind", flat=True))
    assert {"otp_device_changed", "mobile_changed"} <= kinds  # the notices exist: they are what is searched
    _assert_nowhere([enrol_code, change_code])
