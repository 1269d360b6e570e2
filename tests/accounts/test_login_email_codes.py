"""E-mail codes: never offered by default (NIST 63B rev 4); a setting may allow them."""

import re

import pytest
from django.core import mail
from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import RegisteredDevice
from tests.accounts.test_login_flow import CODE, approved, phone, post_code, post_password  # noqa: F401


@pytest.fixture
def email_device(world):
    return EmailDevice.objects.create(user=world.worker, name="mail", confirmed=True, email=world.worker.email)


@pytest.mark.django_db
def test_email_codes_are_not_offered_or_accepted_by_default(world, client, approved, email_device):  # noqa: F811
    assert post_password(client, "asha").status_code == 302
    page = client.get(CODE).content.decode()
    assert 'value="email"' not in page and "send_email" not in page
    client.post(CODE, {"send_email": "1"})
    assert mail.outbox == []
    email_device.generate_token()  # even a code that somehow exists is refused
    refused = post_code(client, email_device.token, method="email")
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()


@pytest.mark.django_db
def test_a_setting_allows_email_codes(world, client, approved, email_device, settings):  # noqa: F811
    settings.PRAHARI_OTP_EMAIL_ENABLED = True
    assert post_password(client, "asha").status_code == 302
    assert 'value="email"' in client.get(CODE).content.decode()
    client.post(CODE, {"send_email": "1"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [world.worker.email]
    code = re.search(r"\b(\d{6})\b", mail.outbox[0].body).group(1)
    response = post_code(client, code, method="email")
    assert response.status_code == 302 and response["Location"] == "/"
    assert RegisteredDevice.objects.filter(user=world.worker, status="approved").exists()
