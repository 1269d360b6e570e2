"""The console's account page is the hub: the account in words (status, cause, lock, devices, sessions, access,
alerts) and its actions, each taken on one page with a reason and, past the step-up window, a fresh code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from accounts.login.session import AUTH_AT_KEY
from accounts.models import (
    AccountEvent,
    AccountEventType,
    Alert,
    Invitation,
    LoginHold,
    RegisteredDevice,
    Status,
    SuspensionCause,
    UserSession,
)
from accounts.services.lifecycle import user_suspend
from records.audit import access_event_append
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def hub_url(user) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def act_url(user, name: str, device=None) -> str:
    return f"/admin/accounts/user/{user.pk}/act/{name}/" + (f"{device.pk}/" if device else "")


def console_for(user, *, minutes_ago: int = 0) -> Client:
    """A console session of `user` whose code was proven `minutes_ago` (past 5: a new code is asked)."""
    client = Client()
    sign_in(client, user)
    if minutes_ago:
        session = client.session
        session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
        session.save()
    return client


def code_of(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def locked(user, failures: int = 11) -> None:
    AccessAttempt.objects.create(
        username=user.username,
        ip_address="10.0.0.9",
        user_agent="t",
        failures_since_start=failures,
        get_data="",
        post_data="",
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- What the page says ----------------------------------------------------------------------------------


def test_the_page_says_who_status_and_lock_in_words_not_a_form(world):
    world.worker.mobile = "+919415000100"
    world.worker.save(update_fields=["mobile"])
    locked(world.worker)
    page = console_for(world.supervisor).get(hub_url(world.worker))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Locked until" in html and "after 11 failed sign-ins" in html
    assert "+91******0100" in html and "+919415000100" not in html
    assert world.worker.facility.name in html
    for noise in ("Required. 150 characters", "The district a supervisor governs.", "Governed state", "icon-no"):
        assert noise not in html
    assert 'name="username"' not in html  # no form fields of a read-only form
    assert f'href="{act_url(world.worker, "unlock")}"' in html


def test_a_suspension_says_when_by_whom_why_and_who_may_lift_it(world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="phone reported lost")
    html = console_for(world.peer_supervisor).get(hub_url(world.worker)).content.decode()
    assert f"by {world.supervisor.get_full_name()} (Suspended by a supervisor): phone reported lost" in html
    assert "Its district supervisor or a state administrator may reinstate it." in html
    assert f'href="{act_url(world.worker, "reinstate")}"' in html


def test_a_hold_says_since_when_and_that_only_an_unlock_lifts_it(world):
    LoginHold.objects.create(user=world.worker, lockouts=3)
    html = console_for(world.supervisor).get(hub_url(world.worker)).content.decode()
    assert "after 3 locks: only an unlock lifts it." in html


def test_a_refused_action_is_shown_disabled_with_why_and_who_can(world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="burst", cause=SuspensionCause.ANOMALY)
    page = console_for(world.supervisor).get(hub_url(world.worker))
    html = page.content.decode()
    assert "Only a state administrator may reinstate it." in html
    assert f'href="{act_url(world.worker, "reinstate")}"' not in html
    assert "which only a state administrator lifts" in html and world.state_admin.get_full_name() in html


def test_devices_sessions_access_and_open_alerts_are_on_the_page(world):
    pending = RegisteredDevice.objects.create(user=world.worker, token_hash="b" * 64, code="PEND1234", status="pending")
    approved = sign_in(Client(), world.worker)
    access_event_append(actor=world.worker, action="view", outcome="allowed", purpose="due_dose")
    alert = Alert.objects.create(rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.worker, evidence={})
    Alert.objects.create(rule="night_views", severity=Alert.Severity.LOW, subject=world.worker, status="dismissed")
    html = console_for(world.supervisor).get(hub_url(world.worker)).content.decode()
    assert f'href="{act_url(world.worker, "approve-device", pending)}"' in html
    assert f'href="{act_url(world.worker, "reject-device", pending)}"' in html
    assert f'href="{act_url(world.worker, "revoke-device", approved)}"' in html
    assert f'href="/admin/accounts/alert/{alert.pk}/change/"' in html
    assert len(re.findall(r"/admin/accounts/alert/\d+/change/", html)) == 1  # the dismissed one is not open
    assert 'class="access-events"' in html


def test_the_page_costs_the_same_queries_for_1_and_for_20_of_everything(world):
    console = console_for(world.supervisor)

    def grow(start: int, n: int) -> int:
        for i in range(start, start + n):
            RegisteredDevice.objects.create(
                user=world.worker, token_hash=f"{len(str(i))}{i}".ljust(64, "c"), code=f"D{i:07d}", status="pending"
            )
            access_event_append(actor=world.worker, action="view", outcome="allowed", purpose="due_dose")
            Alert.objects.create(rule="volume_burst", severity=Alert.Severity.HIGH, subject=world.worker, evidence={})
            sign_in(Client(), world.worker)  # a session, on an approved device of its own
        with CaptureQueriesContext(connection) as queries:
            assert console.get(hub_url(world.worker)).status_code == 200
        return len(queries)

    one = grow(0, 1)
    twenty = grow(1, 19)
    assert UserSession.objects.filter(user=world.worker).count() == 20
    assert twenty == one


def test_an_account_outside_the_jurisdiction_has_no_page_and_no_actions(world):
    console = console_for(world.supervisor)
    assert console.get(hub_url(world.far_worker)).status_code == 302  # as the admin answers: no such account
    locked(world.far_worker)
    assert console.get(act_url(world.far_worker, "unlock")).status_code == 404
    assert console.post(act_url(world.far_worker, "unlock"), {"reason": "x" * 5}).status_code == 404
    assert AccessAttempt.objects.filter(username=world.far_worker.username).exists()


def test_the_page_itself_takes_no_post_and_unknown_actions_are_404(world):
    console = console_for(world.supervisor)
    assert console.post(hub_url(world.worker), {"first_name": "Changed"}).status_code == 403
    assert console.get(act_url(world.worker, "delete")).status_code == 404
    device = RegisteredDevice.objects.create(user=world.colleague, token_hash="d" * 64, code="OTHER123")
    assert console.get(act_url(world.worker, "approve-device", device)).status_code == 404  # not her device
    assert console.get(f"/admin/accounts/user/{world.worker.pk}/act/suspend/{device.pk}/").status_code == 404


# --- Actions from the page -------------------------------------------------------------------------------


def test_unlock_asks_reason_and_code_on_one_page_then_unlocks(world):
    locked(world.worker)
    console = console_for(world.supervisor, minutes_ago=10)
    page = console.get(act_url(world.worker, "unlock")).content.decode()
    assert 'name="reason"' in page and 'name="token"' in page

    missing = console.post(act_url(world.worker, "unlock"), {"method": "totp", "token": code_of(world.supervisor)})
    assert missing.status_code == 200 and "This field is required." in missing.content.decode()
    assert AccessAttempt.objects.filter(username=world.worker.username).exists()

    with freeze_time(timezone.now() + timedelta(seconds=31)):
        done = console.post(
            act_url(world.worker, "unlock"),
            {"reason": "She called from the PHC", "method": "totp", "token": code_of(world.supervisor)},
        )
    assert done.status_code == 302 and done["Location"] == hub_url(world.worker)
    assert not AccessAttempt.objects.filter(username=world.worker.username).exists()
    event = AccountEvent.objects.get(type=AccountEventType.LOCKOUT_CLEARED, subject=world.worker)
    assert (event.actor, event.reason) == (world.supervisor, "She called from the PHC")


def test_a_wrong_code_counts_toward_the_lockout_and_changes_nothing(world):
    locked(world.worker)
    console = console_for(world.supervisor, minutes_ago=10)
    wrong = console.post(act_url(world.worker, "unlock"), {"reason": "She called", "method": "totp", "token": "000000"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    assert "She called" in wrong.content.decode()  # the reason stays typed
    assert AccountEvent.objects.filter(subject=world.supervisor, type=AccountEventType.OTP_FAILED).count() == 1
    assert AccessAttempt.objects.get(username=world.supervisor.username).failures_since_start == 1
    assert AccessAttempt.objects.filter(username=world.worker.username).exists()


def test_wrong_codes_that_lock_the_supervisor_sign_them_out(world, settings):
    locked(world.supervisor, failures=settings.AXES_FAILURE_LIMIT - 1)
    locked(world.worker)
    console = console_for(world.supervisor, minutes_ago=10)
    out = console.post(act_url(world.worker, "unlock"), {"reason": "She called", "method": "totp", "token": "000000"})
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert console.get("/admin/").status_code == 302
    assert AccessAttempt.objects.filter(username=world.worker.username).exists()


@pytest.mark.parametrize(
    ("name", "prepare", "after"),
    [
        ("suspend", None, Status.SUSPENDED),
        ("reinstate", "suspend", Status.ACTIVE),
        ("deactivate", None, Status.DEACTIVATED),
    ],
)
def test_lifecycle_actions_from_the_page(world, name, prepare, after):
    if prepare:
        user_suspend(user=world.worker, acting_user=world.supervisor, reason="on leave")
    console = console_for(world.supervisor)  # a code proven just now: none asked again
    page = console.get(act_url(world.worker, name)).content.decode()
    assert 'name="reason"' in page and 'name="token"' not in page
    done = console.post(act_url(world.worker, name), {"reason": "as agreed with the MO"}, follow=True)
    assert done.status_code == 200
    world.worker.refresh_from_db()
    assert world.worker.status == after
    assert world.worker.history.first().history_user == world.supervisor


def test_the_service_refuses_with_why_and_who_can_even_when_posted_directly(world):
    user_suspend(user=world.worker, acting_user=world.state_admin, reason="burst", cause=SuspensionCause.ANOMALY)
    console = console_for(world.supervisor)
    asked = console.get(act_url(world.worker, "reinstate"), follow=True)
    assert any("which only a state administrator lifts" in m for m in messages_of(asked))
    posted = console.post(act_url(world.worker, "reinstate"), {"reason": "cleared"}, follow=True)
    assert any("which only a state administrator lifts" in m for m in messages_of(posted))
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED


def test_an_action_that_no_longer_applies_says_why(world):
    posted = console_for(world.supervisor).post(act_url(world.worker, "reinstate"), {"reason": "x" * 5}, follow=True)
    assert any("cannot be reinstated: it is active" in m for m in messages_of(posted))


@pytest.mark.parametrize(
    ("name", "start", "after"),
    [
        ("approve-device", "pending", "approved"),
        ("reject-device", "pending", "rejected"),
        ("revoke-device", "approved", "revoked"),
    ],
)
def test_device_decisions_from_the_page(world, name, start, after):
    device = RegisteredDevice.objects.create(user=world.worker, token_hash="e" * 64, code="DEV12345", status=start)
    console = console_for(world.supervisor)
    done = console.post(act_url(world.worker, name, device), {"reason": "read out on the phone"})
    assert done.status_code == 302 and done["Location"] == hub_url(world.worker)
    device.refresh_from_db()
    assert device.status == after and device.decided_by == world.supervisor


def test_invitation_resend_asks_only_the_code_and_revoke_a_reason(world):
    from accounts.services.onboarding import invitation_create

    sent = invitation_create(
        acting_user=world.supervisor,
        first_name="Nisha",
        last_name="Rao",
        mobile="9415000777",
        email="",
        role="worker",
        facility=world.facility,
        district=None,
        base_url="http://testserver/",
    )
    console = console_for(world.peer_supervisor)
    page = console.get(act_url(sent.user, "resend-invitation")).content.decode()
    assert 'name="reason"' not in page
    assert console.post(act_url(sent.user, "resend-invitation"), {"apply": "1"}).status_code == 302
    assert Invitation.objects.filter(user=sent.user).count() == 2
    assert console.post(act_url(sent.user, "revoke-invitation"), {"reason": "wrong number"}).status_code == 302
    assert not Invitation.objects.filter(user=sent.user, state=Invitation.State.OPEN).exists()


def test_attest_from_the_page(world):
    console = console_for(world.supervisor)
    done = console.post(act_url(world.worker, "attest"), {"reason": "still at the PHC"})
    assert done.status_code == 302
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending and world.worker.review_due_at > timezone.now()
