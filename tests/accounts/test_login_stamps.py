"""What a login that goes ahead stamps: the device as seen and the account's last full login (`last_login`),
in the device's one statement; any other login still gets Django's own stamp."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from tests.accounts.test_login_flow import approved as approved  # the fixtures, reused
from tests.accounts.test_login_flow import full_login, later, post_code, post_password, totp_now
from tests.accounts.test_login_flow import phone as phone


def last_login(user: User):
    return User.objects.values_list("last_login", flat=True).get(pk=user.pk)


@pytest.mark.django_db
def test_a_login_stamps_device_and_account_in_one_statement(world, approved, phone):
    User.objects.filter(pk=world.worker.pk).update(last_login=None)
    with later(31):
        started = timezone.now()
        assert post_password(approved, world.worker.username).status_code == 302
        with CaptureQueriesContext(connection) as queries:
            assert post_code(approved, totp_now(phone))["Location"] == "/"
        assert started <= last_login(world.worker) <= timezone.now()
    account_updates = [q["sql"] for q in queries.captured_queries if re.search(r'UPDATE "?accounts_user"? ', q["sql"])]
    assert len(account_updates) == 1 and "accounts_registereddevice" in account_updates[0]


@pytest.mark.django_db
def test_a_login_that_waits_for_its_device_stamps_no_last_login(world, phone):
    User.objects.filter(pk=world.worker.pk).update(last_login=None)
    with later(31):
        assert full_login(Client(), world.worker, phone).status_code == 403  # a new browser: waiting
    assert last_login(world.worker) is None


@pytest.mark.django_db
def test_any_other_login_still_gets_djangos_stamp(world):
    User.objects.filter(pk=world.worker.pk).update(last_login=None)
    started = timezone.now()
    Client().force_login(world.worker)
    assert started <= last_login(world.worker) <= timezone.now()
