"""The signed-in person's home: their sessions and devices, which they can end and revoke."""

import pytest
from django.test import Client

from accounts.models import RegisteredDevice, UserSession
from accounts.services.sessions import session_public_id
from tests.conftest import sign_in


@pytest.mark.django_db
def test_home_lists_sessions_and_ends_another_one(world, client):
    device = sign_in(client, world.worker)
    other = Client()
    sign_in(other, world.worker)  # a second device and session (the helper skips the one-session rule)
    page = client.get("/")
    assert page.status_code == 200 and device.code in page.content.decode()
    others = [s for s in UserSession.objects.filter(user=world.worker) if s.session_key != client.session.session_key]
    response = client.post(f"/accounts/sessions/{session_public_id(others[0].session_key)}/end/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert UserSession.objects.filter(user=world.worker).count() == 1
    assert other.get("/").status_code == 302


@pytest.mark.django_db
def test_a_worker_revokes_their_own_device_and_its_session_ends(world, client):
    device = sign_in(client, world.worker)
    response = client.post(f"/accounts/devices/{device.pk}/revoke/")
    assert response.status_code == 302
    assert RegisteredDevice.objects.get(pk=device.pk).status == "revoked"
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_nobody_revokes_another_persons_device_from_home(world, client):
    theirs = sign_in(Client(), world.colleague)
    sign_in(client, world.worker)
    assert client.post(f"/accounts/devices/{theirs.pk}/revoke/").status_code == 404
    assert RegisteredDevice.objects.get(pk=theirs.pk).status == "approved"


@pytest.mark.django_db
def test_home_shows_the_re_verification_due_date(world, client):
    from datetime import timedelta

    from django.template.defaultfilters import date as date_filter
    from django.utils import timezone

    from accounts.models import User

    sign_in(client, world.worker)
    assert 'id="review-due"' not in client.get("/").content.decode()  # no date yet: nothing to show
    due = timezone.now() + timedelta(days=30, hours=1)
    User.objects.filter(pk=world.worker.pk).update(review_due_at=due)
    page = client.get("/")
    assert page.context["review_due_days"] == 30
    html = page.content.decode()
    assert 'id="review-due"' in html and "(30 days left)" in html
    assert date_filter(timezone.localtime(due), "DATE_FORMAT") in html
