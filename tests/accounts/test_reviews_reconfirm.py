"""Re-confirmation after a review: nothing else is reachable until the undertaking and a fresh code (the login's
own code while it is fresh)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.login.session import AUTH_AT_KEY
from accounts.models import AccountEvent, AccountEventType, Undertaking, UndertakingAcceptance, User
from governance.reviews import review_attest
from tests.conftest import sign_in

RECONFIRM = "/accounts/reconfirm/"


def totp_code(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def _accept(client, user, *, version=1, code=None, accept=True, next_url=""):
    data = {"method": "totp", "token": code or totp_code(user), "version": version}
    if accept:
        data["accept"] = "on"
    return client.post(RECONFIRM + (f"?next={next_url}" if next_url else ""), data)


def login_aged(client, minutes: int) -> None:
    """Move the session's login (password and code) `minutes` into the past."""
    session = client.session
    session[AUTH_AT_KEY] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session.save()


@pytest.fixture
def attested(world, client):
    """The worker, signed in ten minutes ago (their login's code no longer fresh), whose supervisor has just
    attested their access."""
    sign_in(client, world.worker)
    login_aged(client, 10)
    review_attest(user=world.worker, acting_user=world.supervisor, reason="still at PHC Chinhat")
    return client


@pytest.fixture
def just_signed_in(world, client):
    """The worker, attested, who has just signed in (password and code)."""
    review_attest(user=world.worker, acting_user=world.supervisor, reason="still at PHC Chinhat")
    sign_in(client, world.worker)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/records/", "/accounts/security/", "/accounts/step-up/"])
def test_a_pending_reconfirmation_blocks_every_page(attested, path):
    response = attested.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(RECONFIRM + "?next=")


@pytest.mark.django_db
def test_a_pending_reconfirmation_blocks_posts_too(attested, world):
    new = "a brand new passphrase 2026"
    data = {"old_password": "correct horse battery staple", "new_password1": new, "new_password2": new}
    response = attested.post("/accounts/password/", data)
    assert response.status_code == 302 and response["Location"] == RECONFIRM
    world.worker.refresh_from_db()
    assert world.worker.check_password("correct horse battery staple")


@pytest.mark.django_db
def test_a_supervisor_with_a_pending_reconfirmation_cannot_open_the_console(world, client):
    sign_in(client, world.supervisor)
    review_attest(user=world.supervisor, acting_user=world.state_admin, reason="still the DIO")
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302 and response["Location"].startswith(RECONFIRM)


@pytest.mark.django_db
def test_the_page_shows_the_undertaking_and_logout_and_language_stay_open(attested):
    page = attested.get(RECONFIRM)
    assert page.status_code == 200
    assert "I will open a beneficiary" in page.content.decode()
    switched = attested.post("/i18n/setlang/", {"language": "hi", "next": RECONFIRM})
    assert switched.status_code == 302
    hindi = attested.get(RECONFIRM).content.decode()
    assert Undertaking.objects.get(version=1).text_hi[:40] in hindi
    out = attested.post("/accounts/logout/")
    assert out.status_code == 302
    assert attested.get("/")["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_accepting_with_a_fresh_code_records_it_and_opens_the_portal(attested, world):
    response = _accept(attested, world.worker, next_url="/records/")
    assert response.status_code == 302 and response["Location"] == "/records/"
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is False
    acceptance = UndertakingAcceptance.objects.get(user=world.worker)
    assert acceptance.undertaking.version == 1
    types = set(AccountEvent.objects.filter(subject=world.worker).values_list("type", flat=True))
    assert {AccountEventType.REVIEW_RECONFIRMED, AccountEventType.UNDERTAKING_ACCEPTED} <= types
    history = world.worker.history.order_by("-history_id").first()
    assert (history.history_user, history.reconfirm_pending) == (world.worker, False)
    assert attested.get("/").status_code == 200


@pytest.mark.django_db
def test_right_after_a_login_its_own_code_counts_and_only_the_undertaking_is_asked(just_signed_in, world):
    page = just_signed_in.get(RECONFIRM)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="token"' not in html and 'name="accept"' in html
    assert "The code you signed in with confirms it is you" in html
    refused = just_signed_in.post(RECONFIRM, {"version": 1})  # the undertaking is still required
    assert refused.status_code == 200 and "accept" in refused.context["form"].errors
    response = just_signed_in.post(RECONFIRM + "?next=/records/", {"version": 1, "accept": "on"})
    assert response.status_code == 302 and response["Location"] == "/records/"
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is False
    event = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.REVIEW_RECONFIRMED)
    assert event.data == {"version": 1, "code": "login"}
    assert UndertakingAcceptance.objects.filter(user=world.worker, undertaking__version=1).exists()


@pytest.mark.django_db
def test_a_login_older_than_the_step_up_window_needs_a_new_code(just_signed_in, world, settings):
    page = just_signed_in.get(RECONFIRM)
    assert 'name="token"' not in page.content.decode()
    login_aged(just_signed_in, settings.PRAHARI_STEP_UP_MINUTES + 1)  # the page was read slowly
    response = just_signed_in.post(RECONFIRM, {"version": 1, "accept": "on"})
    html = response.content.decode()
    assert response.status_code == 200 and 'name="token"' in html and 'inputmode="numeric"' in html
    assert "confirm with a fresh one-time code" in html
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is True
    assert _accept(just_signed_in, world.worker).status_code == 302
    event = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.REVIEW_RECONFIRMED)
    assert event.data == {"version": 1, "code": "reconfirm"}


@pytest.mark.django_db
def test_a_wrong_code_is_refused_and_counted(attested, world):
    response = _accept(attested, world.worker, code="000000")
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is True
    assert not UndertakingAcceptance.objects.exists()
    failed = AccountEvent.objects.get(subject=world.worker, type=AccountEventType.OTP_FAILED)
    assert failed.data["category"] == "otp_reconfirm_totp"
    assert attested.get("/").status_code == 302


@pytest.mark.django_db
def test_the_undertaking_must_be_accepted(attested, world):
    response = _accept(attested, world.worker, accept=False)
    assert response.status_code == 200
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is True
    assert not UndertakingAcceptance.objects.exists()


@pytest.mark.django_db
def test_a_newer_undertaking_forces_reconfirmation_without_a_review(world, client):
    from accounts.services.undertakings import undertaking_accept

    undertaking_accept(user=world.worker, undertaking=Undertaking.objects.get(version=1))
    sign_in(client, world.worker)
    assert client.get("/").status_code == 200
    Undertaking.objects.create(version=2, text="Version two: new rules.", text_hi="संस्करण दो")
    blocked = client.get("/")
    assert blocked.status_code == 302 and blocked["Location"].startswith(RECONFIRM)
    assert "Version two: new rules." in client.get(RECONFIRM).content.decode()
    stale = _accept(client, world.worker, version=1)  # the page the worker read was the old one
    assert stale.status_code == 302 and not UndertakingAcceptance.objects.filter(undertaking__version=2).exists()
    assert _accept(client, world.worker, version=2).status_code == 302
    assert UndertakingAcceptance.objects.filter(user=world.worker, undertaking__version=2).exists()
    assert not AccountEvent.objects.filter(type=AccountEventType.REVIEW_RECONFIRMED).exists()  # no review asked
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_an_account_that_never_accepted_is_not_gated_until_a_review(world, client):
    """Decision: the first acceptance belongs to enrolment; legacy accounts come through at their first review."""
    sign_in(client, world.worker)
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_nothing_to_reconfirm_sends_the_page_home(world, client):
    sign_in(client, world.worker)
    response = client.get(RECONFIRM)
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_the_gate_fails_closed_when_the_check_cannot_be_made(world, client, monkeypatch):
    sign_in(client, world.worker)

    def broken(user):
        raise DatabaseError("connection lost")

    monkeypatch.setattr("accounts.review_gate.reconfirm_required", broken)
    response = client.get("/records/")
    assert response.status_code == 503
    assert "could not check your account" in response.content.decode()


@pytest.mark.django_db
def test_the_gate_leaves_anonymous_visitors_to_the_login(client):
    assert client.get("/")["Location"].startswith("/accounts/login/")
    assert User.objects.filter(reconfirm_pending=True).count() == 0


@pytest.mark.django_db
def test_the_gate_check_needs_no_query_once_the_newest_version_is_remembered(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services.reviews import reconfirm_required
    from accounts.services.undertakings import undertaking_accept

    undertaking_accept(user=world.worker, undertaking=Undertaking.objects.get(version=1))
    assert world.worker.undertaking_version == 1
    with CaptureQueriesContext(connection) as cold:
        assert reconfirm_required(world.worker) is False
    with CaptureQueriesContext(connection) as warm:
        assert reconfirm_required(world.worker) is False
    assert (len(cold), len(warm)) == (1, 0)
    Undertaking.objects.create(version=2, text="Two.", text_hi="दो")  # publishing forgets the remembered version
    assert reconfirm_required(world.worker) is True
