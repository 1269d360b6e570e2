"""The code step reads the account's authenticator device once, locked, from a statement compiled once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import otp
from accounts.services.otp import otp_verify
from tests.accounts.test_login_flow import totp_now


@pytest.fixture
def apps(world):
    """asha and ravi each have an authenticator app; asha also an unconfirmed newer one."""
    mine = TOTPDevice.objects.create(user=world.worker, name="app", confirmed=True)
    TOTPDevice.objects.create(user=world.worker, name="new", confirmed=False)
    theirs = TOTPDevice.objects.create(user=world.colleague, name="app", confirmed=True)
    return mine, theirs


@pytest.mark.django_db
def test_each_accounts_own_device_is_read_locked_by_the_statement_compiled_once(world, apps, monkeypatch):
    monkeypatch.setattr(otp, "_LOCKED_READS", {})
    mine, theirs = apps
    for user, device in ((world.worker, mine), (world.colleague, theirs)):
        with CaptureQueriesContext(connection) as queries:
            assert otp_verify(user=user, method="totp", token=totp_now(device), attempt_id="") == device
        reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
        assert len(reads) == 1 and reads[0].endswith("FOR UPDATE") and f"= {user.pk}" in reads[0]
    assert set(otp._LOCKED_READS) == {"totp"}
    assert not otp_verify(user=world.worker, method="totp", token=totp_now(theirs), attempt_id="")


@pytest.mark.django_db
def test_a_method_a_login_may_not_use_reads_nothing(world, apps, settings, django_assert_num_queries):
    settings.PRAHARI_OTP_EMAIL_ENABLED = False
    with django_assert_num_queries(0):
        assert otp_verify(user=world.worker, method="email", token="123456", attempt_id="") is None
        assert otp_verify(user=world.worker, method="carrier pigeon", token="123456", attempt_id="") is None
