"""Ending another person's sessions (ASVS 5.0 V7.4.5): the console's "End sessions" action on the account page
and `manage.py sessions_end`, both through accounts.services.sessions, with the reason in SESSIONS_ENDED."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.exceptions import NotPermitted
from accounts.models import AccountEvent, AccountEventType, Status, UserSession
from accounts.services.sessions import sessions_end_everyone, user_sessions_end
from accounts.services.system import system_user
from tests.conftest import sign_in
from tests.governance.test_account_hub import act_url, console_for, hub_url

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    sign_in(client, user)
    assert client.get("/").status_code == 200
    return client


def still_signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_a_supervisor_ends_a_workers_sessions_from_the_account_page(world):
    phone, office = signed_in(world.worker), signed_in(world.worker)
    console = console_for(world.supervisor)
    assert "End sessions" in console.get(hub_url(world.worker)).content.decode()
    page = console.get(act_url(world.worker, "end-sessions")).content.decode()
    assert 'name="reason"' in page
    done = console.post(act_url(world.worker, "end-sessions"), {"reason": "phone reported stolen"}, follow=True)
    assert any("Every session of" in str(m) for m in done.context["messages"])
    assert not still_signed_in(phone) and not still_signed_in(office)
    assert not UserSession.objects.filter(user=world.worker).exists()
    world.worker.refresh_from_db()
    assert world.worker.status == Status.ACTIVE  # only the sessions end
    event = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.SESSIONS_ENDED)
    assert (event.actor, event.reason, event.data["sessions_ended"]) == (world.supervisor, "phone reported stolen", 2)
    assert still_signed_in(console)


def test_ending_sessions_needs_the_right_over_the_account_and_a_reason(world):
    worker = signed_in(world.worker)
    for actor in (world.colleague, world.far_supervisor, world.worker):  # no role, elsewhere, oneself
        with pytest.raises(NotPermitted):
            user_sessions_end(user=world.worker, acting_user=actor, reason="because I can")
    with pytest.raises(Exception, match="reason"):
        user_sessions_end(user=world.worker, acting_user=world.supervisor, reason=" ")
    assert still_signed_in(worker)
    assert not AccountEvent.objects.filter(type=AccountEventType.SESSIONS_ENDED).exists()
    refused = console_for(world.far_supervisor).post(act_url(world.worker, "end-sessions"), {"reason": "x" * 8})
    assert refused.status_code in (302, 404) and still_signed_in(worker)
    with pytest.raises(NotPermitted, match="You may not end this account's sessions: it is your own account"):
        user_sessions_end(user=world.supervisor, acting_user=world.supervisor, reason="testing myself")


def test_the_command_ends_one_accounts_sessions_as_the_system_actor(world, capsys):
    worker, colleague = signed_in(world.worker), signed_in(world.colleague)
    call_command("sessions_end", "--user", world.worker.username.upper(), "--reason", "left the programme")
    assert "Ended 1 session(s) of asha." in capsys.readouterr().out
    assert not still_signed_in(worker) and still_signed_in(colleague)
    event = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.SESSIONS_ENDED)
    assert event.actor == system_user() and event.reason == "left the programme"


def test_the_command_ends_everyones_sessions_with_all(world, capsys):
    clients = [signed_in(world.worker), signed_in(world.colleague), signed_in(world.supervisor)]
    call_command("sessions_end", "--all", "--reason", "signing key rotated")
    assert "Ended 3 session(s) of all accounts." in capsys.readouterr().out
    assert not any(still_signed_in(client) for client in clients)
    event = AccountEvent.objects.get(type=AccountEventType.SESSIONS_ENDED)
    assert event.subject is None and event.data["accounts"] == 3 and event.reason == "signing key rotated"
    with pytest.raises(NotPermitted):
        sessions_end_everyone(acting_user=world.state_admin, reason="not for people")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody", "--reason", "left the programme"], "No user is named 'nobody'"),
        (["--user", "asha", "--reason", "x"], "A reason is required"),
        (["--user", "asha", "--all", "--reason", "both at once"], "not allowed with argument"),
        (["--reason", "nobody named"], "one of the arguments --user --all is required"),
    ],
)
def test_the_command_refuses_bad_input_plainly(world, args, message):
    worker = signed_in(world.worker)
    with pytest.raises(CommandError, match=message):
        call_command("sessions_end", *args)
    assert still_signed_in(worker)
