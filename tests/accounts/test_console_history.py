"""The console's history pages (issue 7): per change when, who and why, each changed field as "old → new"
in the viewer's language, secrets never shown, read-only for everyone, a fixed number of queries."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from accounts.models import RegisteredDevice, Status, User
from accounts.services.devices import device_approve
from accounts.services.lifecycle import user_reinstate, user_suspend
from accounts.services.system import system_user
from governance.admin import GovernedUserAdmin as UserAdmin
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def history_url(obj, app: str = "accounts") -> str:
    return reverse(f"admin:{app}_{obj._meta.model_name}_history", args=[obj.pk])


def text(response) -> str:
    """The page as read: tags stripped, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def test_a_suspension_shows_when_who_why_and_each_changed_field(client, world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="shared her password with her son")
    sign_in(client, world.supervisor)
    response = client.get(history_url(world.worker))
    assert response.status_code == 200
    page = text(response)
    assert "dio.lucknow" in page
    assert "shared her password with her son" in page
    assert "Status: Active → Suspended" in page
    assert "Suspension cause: — → Suspended by a supervisor" in page  # the choice's label, not "manual"
    assert "Reason for the current status: — → shared her password with her son" in page
    entries = response.context["entries"]
    assert entries[0].who == str(world.supervisor) and entries[0].reason == "shared her password with her son"
    assert {c.label for c in entries[0].changes} >= {"Status", "Suspension cause"}


def test_the_page_speaks_the_viewers_language(client, world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="जाँच")
    sign_in(client, world.supervisor)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    page = text(client.get(history_url(world.worker)))
    assert "स्थिति: सक्रिय → निलंबित" in page
    assert "निलंबन का कारण: — → पर्यवेक्षक द्वारा निलंबित" in page
    assert "परिवर्तन इतिहास" in page


def test_changes_by_the_scheduled_jobs_name_the_system_actor(client, world):
    user_suspend(user=world.worker, acting_user=system_user(), reason="dormancy: 45 days", cause="dormant")
    sign_in(client, world.supervisor)
    entry = client.get(history_url(world.worker)).context["entries"][0]
    assert entry.who == "Prahari system (prahari-system)" and entry.reason == "dormancy: 45 days"


def test_no_secret_is_ever_shown(client, world):
    world.worker.set_password("a new and long passphrase 42")
    world.worker.first_name = "Asha Rani"
    world.worker.save()  # a full save: a history row, but never with the password in it
    device = RegisteredDevice.objects.create(user=world.worker, token_hash="ab" * 32, code="SECRET01")
    device_approve(device=device, acting_user=world.supervisor, reason="code read on the phone")
    sign_in(client, world.supervisor)
    user_page = text(client.get(history_url(world.worker)))
    assert "First name:" in user_page and "Asha Rani" in user_page
    assert world.worker.password not in user_page and "argon2" not in user_page and "Password" not in user_page
    device_page = text(client.get(history_url(device)))
    assert "Status: Pending approval → Approved" in device_page
    assert f"Decided by: — → {world.supervisor}" in device_page  # an empty foreign key reads "—"
    assert "ab" * 32 not in device_page


@pytest.mark.parametrize("as_superuser", [False, True])
def test_the_revert_page_of_simple_history_is_gone_for_everyone(client, world, as_superuser):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="investigation")
    version = world.worker.history.order_by("history_date").first()
    viewer = world.supervisor
    if as_superuser:
        viewer = User.objects.create_superuser("root", "root@example.in", "a long root passphrase")
    sign_in(client, viewer)
    url = reverse("admin:accounts_user_simple_history", args=[world.worker.pk, version.history_id])
    before = world.worker.history.count()
    assert client.get(url).status_code == 404
    posted = client.post(url, {"first_name": "Changed", "last_name": "Behind", "mobile": "", "email": ""})
    assert posted.status_code == 404
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED and world.worker.first_name != "Changed"
    assert world.worker.history.count() == before
    assert b"simple_history" not in client.get(history_url(world.worker)).content  # no link to it either


def _queries_for_history_page(client, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(history_url(user)).status_code == 200
    return len(queries)


def test_queries_do_not_grow_with_the_number_of_changes_shown(client, world):
    sign_in(client, world.supervisor)
    for user, rounds in ((world.worker, 1), (world.colleague, 12)):
        for _ in range(rounds):
            user_suspend(user=user, acting_user=world.supervisor, reason="check")
            user_reinstate(user=user, acting_user=world.peer_supervisor, reason="checked")
    few = _queries_for_history_page(client, world.worker)
    many = _queries_for_history_page(client, world.colleague)
    assert len(client.get(history_url(world.colleague)).context["entries"]) > 20
    assert few == many, (few, many)


def test_the_oldest_change_on_a_page_has_its_diff_too(client, world, monkeypatch):
    monkeypatch.setattr(UserAdmin, "history_list_per_page", 2)
    for n in range(3):
        user_suspend(user=world.worker, acting_user=world.supervisor, reason=f"round {n}")
        user_reinstate(user=world.worker, acting_user=world.supervisor, reason=f"back {n}")
    sign_in(client, world.supervisor)
    first = client.get(history_url(world.worker)).context["entries"]
    second = client.get(history_url(world.worker), {"p": 2}).context["entries"]
    assert [e.reason for e in first + second] == ["back 2", "round 2", "back 1", "round 1"]
    assert all(entry.changes for entry in first + second)


def test_a_history_page_is_read_only_and_offers_no_form(client, world):
    user_suspend(user=world.worker, acting_user=world.supervisor, reason="investigation")
    sign_in(client, world.supervisor)
    before = world.worker.history.count()
    response = client.post(history_url(world.worker), {"status": "active"})
    world.worker.refresh_from_db()
    assert world.worker.status == Status.SUSPENDED and world.worker.history.count() == before
    assert b"<form" not in client.get(history_url(world.worker)).content.split(b'id="content-main"')[1]
    assert response.status_code in (200, 405)


def test_an_account_nobody_changed_through_a_service_still_has_a_page(client, world):
    sign_in(client, world.supervisor)
    response = client.get(history_url(world.worker))
    assert response.status_code == 200
    assert [e.kind for e in response.context["entries"]] == ["Created"]
    assert User.objects.get(pk=world.worker.pk).history.count() == 1


def test_access_and_account_events_are_read_only_for_a_superuser_too(client, world):
    from accounts.models import AccountEvent
    from records.audit import access_event_append
    from records.models import AccessEvent

    root = User.objects.create_superuser("root", "root@example.in", "a long root passphrase")
    access = access_event_append(actor=world.worker, action="view", outcome="allowed", purpose="due_dose")
    account = AccountEvent.objects.create(type=100, actor=world.supervisor, subject=world.worker, reason="as it was")
    sign_in(client, root)
    for obj, app, field, value in ((access, "records", "purpose", "changed"), (account, "accounts", "reason", "x")):
        name = obj._meta.model_name
        change = reverse(f"admin:{app}_{name}_change", args=[obj.pk])
        assert client.get(change).status_code == 200  # readable
        assert client.post(change, {field: value}).status_code == 403
        assert client.post(reverse(f"admin:{app}_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        assert client.get(reverse(f"admin:{app}_{name}_add")).status_code == 403
    assert AccessEvent.objects.get(pk=access.pk).purpose == "due_dose"
    assert AccountEvent.objects.get(pk=account.pk).reason == "as it was"
