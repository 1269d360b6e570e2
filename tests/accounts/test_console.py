"""A suspended account's open browser session stops working on its very next request."""

from __future__ import annotations

import pytest

from accounts.models import AccountEvent, AccountEventType, Status
from accounts.services.lifecycle import user_reinstate, user_suspend
from tests.conftest import sign_in


def _console_client(client, user):
    """A client signed in to the OTP-only console as `user` (the login flow itself is not under test here)."""
    sign_in(client, user)
    return client


@pytest.mark.django_db
def test_suspension_ends_a_signed_in_supervisors_console_session(world, client):
    console = _console_client(client, world.supervisor)
    assert console.get("/admin/").status_code == 200

    user_suspend(user=world.supervisor, acting_user=world.state_admin, reason="investigation")

    response = console.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_reinstatement_does_not_revive_an_ended_session(world, client):
    console = _console_client(client, world.supervisor)
    user_suspend(user=world.supervisor, acting_user=world.state_admin, reason="investigation")
    user_reinstate(user=world.supervisor, acting_user=world.state_admin, reason="cleared")
    assert console.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_console_refuses_a_verified_session_of_a_non_active_account(world, client):
    """Defence in depth: even if a session survived, a non-active account is logged out on its next request."""
    console = _console_client(client, world.supervisor)
    type(world.supervisor).objects.filter(pk=world.supervisor.pk).update(status="suspended", suspension_cause="manual")
    assert console.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_console_lists_only_the_supervisors_jurisdiction(world, client):
    console = _console_client(client, world.supervisor)
    page = console.get("/admin/accounts/user/")
    assert page.status_code == 200
    listed = {u.username for u in page.context["cl"].queryset}
    assert listed == {"asha", "ravi", "meena"}
    assert console.get(f"/admin/accounts/user/{world.far_worker.pk}/change/").status_code == 302  # not found → index


@pytest.mark.django_db
def test_console_suspend_action_asks_for_a_reason_then_suspends(world, client):
    console = _console_client(client, world.supervisor)
    ask = console.post("/admin/accounts/user/", {"action": "suspend", "_selected_action": [world.worker.pk]})
    assert ask.status_code == 200
    assert "Give the reason" in ask.content.decode()
    empty = console.post(
        "/admin/accounts/user/",
        {"action": "suspend", "_selected_action": [world.worker.pk], "apply": "1", "reason": ""},
    )
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE

    done = console.post(
        "/admin/accounts/user/",
        {"action": "suspend", "_selected_action": [world.worker.pk], "apply": "1", "reason": "shared his password"},
        follow=True,
    )
    assert done.status_code == 200
    assert "1 account suspended." in done.content.decode()
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED
    assert world.worker.history.first().history_user == world.supervisor


@pytest.mark.django_db
def test_console_turns_an_illegal_transition_into_a_message(world, client):
    console = _console_client(client, world.supervisor)
    response = console.post(
        "/admin/accounts/user/",
        {"action": "reinstate", "_selected_action": [world.worker.pk], "apply": "1", "reason": "mistake"},
        follow=True,
    )
    assert response.status_code == 200
    assert "(asha): This account cannot be reinstated: it is active." in response.content.decode()


def _totp_code(user, *, steps_ahead: int = 0) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += steps_ahead * device.step
    return f"{totp.token():06d}"


@pytest.mark.django_db
def test_console_actions_on_other_accounts_need_a_fresh_code_on_the_same_page(world, client):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    console = _console_client(client, world.supervisor)
    action = {"action": "suspend", "_selected_action": [world.worker.pk], "apply": "1", "reason": "shared password"}
    with freeze_time(timezone.now() + timedelta(minutes=6)) as frozen:
        asked = console.post("/admin/accounts/user/", action)
        page = asked.content.decode()
        assert asked.status_code == 200 and 'name="token"' in page
        assert "Enter the one-time code." in page  # no code typed: nothing applied
        assert f'name="_selected_action" value="{world.worker.pk}"' in page  # the selection kept, the action too
        assert 'name="action" value="suspend"' in page
        world.worker.refresh_from_db()
        assert world.worker.status == Status.ACTIVE

        wrong = console.post("/admin/accounts/user/", {**action, "method": "totp", "token": "000000"})
        assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
        assert AccountEvent.objects.filter(subject=world.supervisor, type=AccountEventType.OTP_FAILED).count() == 1
        world.worker.refresh_from_db()
        assert world.worker.status == Status.ACTIVE

        frozen.tick(timedelta(seconds=31))  # past django-otp's back-off after one wrong code
        done = console.post(
            "/admin/accounts/user/", {**action, "method": "totp", "token": _totp_code(world.supervisor)}, follow=True
        )
        assert "1 account suspended." in done.content.decode()
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED
    assert AccountEvent.objects.filter(subject=world.supervisor, type=AccountEventType.STEP_UP_SUCCEEDED).exists()


@pytest.mark.django_db
def test_the_console_signs_in_through_the_one_login_flow(client):
    first = client.get("/admin/")
    second = client.get(first["Location"])
    assert second.status_code == 302
    assert second["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert client.get(second["Location"]).status_code == 200


@pytest.mark.django_db
def test_the_consoles_password_change_is_the_portals_own(world, client):
    console = _console_client(client, world.supervisor)
    response = console.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"


@pytest.mark.django_db
def test_the_console_cannot_edit_an_account_outside_the_services(world, client):
    root = type(world.worker).objects.create_superuser("root", "root@example.in", "a long root passphrase")
    console = _console_client(client, root)
    url = f"/admin/accounts/user/{world.worker.pk}/change/"
    assert console.get(url).status_code == 200  # visible
    response = console.post(url, {"first_name": "Changed", "status": "active"})
    assert response.status_code == 403
    world.worker.refresh_from_db()
    assert world.worker.first_name != "Changed"


@pytest.mark.django_db
def test_a_bulk_action_reports_per_row_in_one_message(world, client):
    from accounts.services.lifecycle import user_suspend

    user_suspend(user=world.colleague, acting_user=world.supervisor, reason="on leave")
    console = _console_client(client, world.supervisor)
    response = console.post(
        "/admin/accounts/user/",
        {
            "action": "reinstate",
            "_selected_action": [world.worker.pk, world.colleague.pk],
            "apply": "1",
            "reason": "back at work",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "1 account reinstated; 1 refused: " in page
    assert "(asha): This account cannot be reinstated: it is active." in page
    assert page.count('class="warning"') == 1  # one message, a warning: some done, some refused


@pytest.mark.django_db
def test_a_list_action_refused_says_why_and_who_can(world, client):
    """Issue 15 §2: "You may not reinstate this account." alone left the supervisor guessing."""
    from accounts.models import SuspensionCause

    user_suspend(user=world.worker, acting_user=world.state_admin, reason="canary opened", cause=SuspensionCause.CANARY)
    console = _console_client(client, world.supervisor)
    refused = console.post(
        "/admin/accounts/user/",
        {"action": "reinstate", "_selected_action": [world.worker.pk], "apply": "1", "reason": "she explained it"},
        follow=True,
    )
    page = refused.content.decode()
    assert "1 refused: " in page and "which only a state administrator lifts" in page
    assert f"{world.state_admin.get_full_name()} (State administrator) can." in page
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED
