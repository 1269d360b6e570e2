"""Passkeys on the console's account page: listed with their state and history, withdrawn by the governor (the
recovery of a lost passkey), never by a peer or from outside the jurisdiction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountEventType, UserSession
from accounts.services import passkeys
from tests.governance.test_account_hub import act_url, code_of, console_for, hub_url
from tests.passkey_authenticator import register

pytestmark = pytest.mark.django_db


def _session(user, key, passkey=None):
    return UserSession.objects.create(
        session_key=key, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=user, passkey=passkey
    )


def test_the_hub_lists_passkeys_their_state_and_history(world):
    kept, _ = register(world.worker, name="Asha phone")
    lost, _ = register(world.worker, name="Old key")
    passkeys.passkey_revoke(passkey=lost, acting_user=world.worker, reason="left it on the bus")
    page = console_for(world.supervisor).get(hub_url(world.worker))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="passkeys"' in body and "Asha phone" in body and "Old key" in body
    assert "Withdrawn" in body and "In use" in body
    assert "left it on the bus" in body  # the history, with the reason
    assert act_url(world.worker, "revoke-passkey", kept) in body
    assert act_url(world.worker, "revoke-passkey", lost) not in body  # nothing to withdraw twice


def test_the_supervisor_withdraws_a_lost_passkey_and_its_sessions_end(world):
    passkey, _ = register(world.worker)
    opened = _session(world.worker, "opened-by-the-lost-passkey", passkey)
    console = console_for(world.supervisor, minutes_ago=10)
    url = act_url(world.worker, "revoke-passkey", passkey)
    assert console.get(url).status_code == 200
    response = console.post(
        url, {"reason": "phone stolen, she called", "method": "totp", "token": code_of(world.supervisor)}
    )
    assert response.status_code == 302 and response["Location"] == hub_url(world.worker)
    passkey.refresh_from_db()
    assert not passkey.confirmed
    assert not UserSession.objects.filter(pk=opened.pk).exists()
    event = AccountEvent.objects.get(type=AccountEventType.PASSKEY_REVOKED)
    assert (event.actor, event.subject, event.reason) == (world.supervisor, world.worker, "phone stolen, she called")
    assert event.data["sessions_ended"] == 1


def test_a_supervisors_passkey_is_the_state_administrators_to_withdraw(world):
    passkey, _ = register(world.supervisor)
    peer = console_for(world.peer_supervisor)
    assert peer.get(hub_url(world.supervisor)).status_code in (302, 404)  # not in a peer's scope at all
    assert peer.post(act_url(world.supervisor, "revoke-passkey", passkey), {"reason": "x"}).status_code in (302, 404)
    passkey.refresh_from_db()
    assert passkey.confirmed
    admin = console_for(world.state_admin)
    assert admin.post(act_url(world.supervisor, "revoke-passkey", passkey), {"reason": "key lost"}).status_code == 302
    passkey.refresh_from_db()
    assert not passkey.confirmed


def test_a_passkey_of_another_account_is_not_found_under_this_one(world):
    passkey, _ = register(world.colleague)
    console = console_for(world.supervisor)
    assert console.get(act_url(world.worker, "revoke-passkey", passkey)).status_code == 404
    assert console.post(act_url(world.worker, "revoke-passkey", passkey), {"reason": "x"}).status_code == 404
    passkey.refresh_from_db()
    assert passkey.confirmed
