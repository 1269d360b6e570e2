"""The signed-in person's home (search first) and "My account": sessions and devices, which they can end and
revoke (the device in use only after a confirmation)."""

from datetime import timedelta

import pytest
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.utils import timezone

from accounts.models import AccountEvent, AccountEventType, RegisteredDevice, User, UserSession
from accounts.services.sessions import session_public_id
from tests.conftest import sign_in

MINE = "/accounts/me/"


@pytest.mark.django_db
def test_home_puts_the_record_search_first_and_links_to_my_account(world, client):
    sign_in(client, world.worker)
    html = client.get("/").content.decode()
    search = html.index('action="/records/"')
    assert search < html.index("Your recent look-ups") < html.index('id="my-account"')
    assert 'href="/accounts/me/"' in html[html.index('id="my-account"') :]
    for name in ("purpose", "reference_id", "mobile", "name"):
        assert f'name="{name}"' in html[search : html.index("</form>", search)]
    assert "Your devices" not in html and "Your sessions" not in html  # they live on "My account"


@pytest.mark.django_db
def test_the_search_on_home_searches(world, client):
    from tests.records.conftest import make_record

    make_record("10000000000001", world.facility, name="Sunita Yadav")
    sign_in(client, world.worker)
    response = client.post("/records/", {"purpose": "due_dose", "reference_id": "10000000000001"})
    assert response.status_code == 200 and "Sunita Yadav" in response.content.decode()


@pytest.mark.django_db
def test_my_account_lists_sessions_and_ends_another_one(world, client):
    device = sign_in(client, world.worker)
    other = Client()
    sign_in(other, world.worker)  # a second device and session (the helper skips the one-session rule)
    page = client.get(MINE)
    html = page.content.decode()
    assert page.status_code == 200 and device.code in html and "this device" in html
    others = [s for s in UserSession.objects.filter(user=world.worker) if s.session_key != client.session.session_key]
    response = client.post(f"/accounts/sessions/{session_public_id(others[0].session_key)}/end/")
    assert response.status_code == 302 and response["Location"] == MINE
    assert UserSession.objects.filter(user=world.worker).count() == 1
    assert other.get("/").status_code == 302


@pytest.mark.django_db
def test_ending_another_session_needs_a_fresh_login(world, client):
    from accounts.login.session import AUTH_AT_KEY

    sign_in(client, world.worker)
    other = Client()
    sign_in(other, world.worker)
    session = client.session
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=6)).isoformat()
    session.save()
    others = [s for s in UserSession.objects.filter(user=world.worker) if s.session_key != client.session.session_key]
    response = client.post(f"/accounts/sessions/{session_public_id(others[0].session_key)}/end/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/accounts/me/"
    assert UserSession.objects.filter(session_key=others[0].session_key).exists()  # not ended by this POST
    assert not AccountEvent.objects.filter(subject=world.worker, data__reason="ended_by_owner").exists()
    assert not UserSession.objects.filter(session_key=client.session.session_key).exists()  # this one must sign in


@pytest.mark.django_db
def test_revoking_the_device_in_use_asks_first_and_changes_nothing_until_confirmed(world, client):
    device = sign_in(client, world.worker)
    html = client.get(MINE).content.decode()
    assert "Revoke this device…" in html
    asked = client.post(f"/accounts/devices/{device.pk}/revoke/")
    page = asked.content.decode()
    assert asked.status_code == 200 and "Revoke the device you are using?" in page
    assert 'name="confirm" value="yes"' in page and 'href="/accounts/me/"' in page  # confirm, or keep it
    assert RegisteredDevice.objects.get(pk=device.pk).status == "approved"
    assert not AccountEvent.objects.filter(type=AccountEventType.DEVICE_REVOKED).exists()
    assert client.post(f"/accounts/devices/{device.pk}/revoke/", {"confirm": "no"}).status_code == 200
    assert client.get(MINE).status_code == 200  # still signed in, on the same device


@pytest.mark.django_db
def test_a_confirmed_revocation_of_the_device_in_use_signs_out_with_a_word_why(world, client):
    device = sign_in(client, world.worker)
    response = client.post(f"/accounts/devices/{device.pk}/revoke/", {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert RegisteredDevice.objects.get(pk=device.pk).status == "revoked"
    event = AccountEvent.objects.get(type=AccountEventType.DEVICE_REVOKED, subject=world.worker)
    assert event.actor == world.worker and event.data["sessions_ended"] == 1
    login = client.get("/accounts/login/").content.decode()
    assert "This device has been revoked and you have been signed out" in login
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_another_device_is_revoked_at_once(world, client):
    sign_in(client, world.worker)
    spare = sign_in(Client(), world.worker)
    response = client.post(f"/accounts/devices/{spare.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == MINE
    assert RegisteredDevice.objects.get(pk=spare.pk).status == "revoked"
    assert client.get(MINE).status_code == 200


@pytest.mark.django_db
def test_nobody_revokes_another_persons_device(world, client):
    theirs = sign_in(Client(), world.colleague)
    sign_in(client, world.worker)
    assert client.post(f"/accounts/devices/{theirs.pk}/revoke/", {"confirm": "yes"}).status_code == 404
    assert client.post("/accounts/devices/999999/revoke/").status_code == 404
    assert client.get(f"/accounts/devices/{theirs.pk}/revoke/").status_code == 405
    assert RegisteredDevice.objects.get(pk=theirs.pk).status == "approved"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", MINE])
def test_home_and_my_account_show_the_re_verification_due_date(world, client, path):
    sign_in(client, world.worker)
    assert 'id="review-due"' not in client.get(path).content.decode()  # no date yet: nothing to show
    due = timezone.now() + timedelta(days=30, hours=1)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=due)
    page = client.get(path)
    assert page.context["review_due_days"] == 30
    html = page.content.decode()
    assert 'id="review-due"' in html and "(30 days left)" in html
    assert date_filter(timezone.localtime(due), "DATE_FORMAT") in html


@pytest.mark.django_db
def test_my_account_needs_a_login(client):
    assert client.get(MINE)["Location"].startswith("/accounts/login/")
