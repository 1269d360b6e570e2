"""A lock explained to the one who may know (issue 15 §2): the owner's own phone says when to try again and
whom to call; the login page says the same static words to everybody, locked or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from freezegun import freeze_time

from accounts.models import Notification
from accounts.notifications_text import render
from accounts.services.lockouts import lock_state
from tests.accounts.test_login_flow import post_password
from tests.accounts.test_login_lockouts import IP_A, IP_B, IP_C, LOCK, fail, locks

RULE = (
    "After 10 failed tries an account is locked for 15 minutes and a text message tells its owner when to try "
    "again and whom to call."
)
LOCKED_AT = datetime(2026, 12, 3, 14, 52, tzinfo=UTC)  # 20:22 in Asia/Kolkata


def owner_texts(user) -> list[str]:
    """The lock notices `user` was sent to their own number, as the SMS reads, oldest first."""
    assert user.mobile, "without a number no SMS is written: the check would prove nothing"
    rows = Notification.objects.filter(user=user, channel="sms", kind__in=("account_locked", "account_held"))
    return [render(row.kind, row.context, row.language)[1] for row in rows.order_by("pk")]


@pytest.fixture
def named(world):
    world.supervisor.first_name, world.supervisor.last_name = "Ramesh", "Verma"
    world.supervisor.save(update_fields=["first_name", "last_name"])
    return world


@pytest.mark.django_db
def test_a_lock_texts_its_owner_in_hindi_when_to_try_again_and_whom_to_call(named):
    world = named
    world.worker.preferred_language = "hi"
    world.worker.save(update_fields=["preferred_language"])
    with freeze_time(LOCKED_AT):
        fail(Client(), 9)
        assert owner_texts(world.worker) == []
        fail(Client(), 1, ip=IP_B)
        assert lock_state(world.worker).locked_until == LOCKED_AT + LOCK
    [text] = owner_texts(world.worker)
    assert "3 दिसंबर 2026, 20:37 के बाद फिर कोशिश करें" in text
    assert f"Ramesh Verma, {world.supervisor.mobile} को फ़ोन करें" in text  # the first supervisor of her district
    assert world.peer_supervisor.get_full_name() not in text
    row = Notification.objects.get(user=world.worker, channel="sms", kind="account_locked")
    assert row.to == world.worker.mobile and row.language == "hi"


@pytest.mark.django_db
def test_a_lock_texts_an_english_owner_and_the_third_says_only_the_supervisor_unlocks(named):
    world = named
    world.worker.preferred_language = "en"
    world.worker.save(update_fields=["preferred_language"])
    with freeze_time(LOCKED_AT) as clock:
        for ip in (IP_A, IP_B, IP_C):
            fail(Client(), 10, ip=ip)
            clock.tick(LOCK + timedelta(seconds=1))
    assert locks(world.worker) == 3
    first, second, held = owner_texts(world.worker)
    assert "Try again after 3 Dec 2026, 20:37 or call Ramesh Verma" in first
    assert "Try again after 3 Dec 2026, 20:52 or call Ramesh Verma" in second
    assert "locked 3 times in 24 hours. Only your supervisor can unlock it now: call Ramesh Verma" in held
    assert "Try again" not in held


@pytest.mark.django_db
def test_the_login_page_says_the_same_static_rule_to_everybody(named):
    world = named
    fail(Client(), 10)  # asha is locked
    pages = [post_password(Client(), "asha"), post_password(Client(), "nobody-here", "wrong")]
    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200 and RULE in body
        assert "Ramesh" not in body and world.supervisor.mobile not in body  # no word of any account's lock
    assert RULE not in Client().get("/accounts/login/").content.decode()  # said after a failure
