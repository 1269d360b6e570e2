"""Enrolment under fuzzed input: the invitation link itself, the enrolment form (password set, authenticator or
SMS code, the undertaking), and adding an authenticator app from the security page. Never a 500; a refused
input leaves the invited account invited, with no password, no confirmed authenticator and no device."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from accounts import sms
from accounts.models import RegisteredDevice, SMSDevice, Status, User
from accounts.services.onboarding import invitation_create
from tests.conftest import sign_in
from tests.fuzz.harness import (
    NASTY,
    REFUSAL_WRITES,
    SESSIONS,
    assert_not_500,
    changed,
    form_data,
    post_raw,
    raw_query,
    snapshot,
)

pytestmark = pytest.mark.django_db
ENROL_FIELDS = {
    "password1": st.one_of(NASTY, st.just("a long and unusual passphrase 42")),
    "password2": st.one_of(NASTY, st.just("a long and unusual passphrase 42")),
    "method": st.sampled_from(["totp", "sms", "email", ""]),
    "token": st.from_regex(r"[0-9 ]{1,8}", fullmatch=True),
    "undertaking_version": st.one_of(st.integers().map(str), st.just("1"), st.just("99999999999999999999999")),
    "accept": st.sampled_from(["on", "off", "", "1"]),
}


@pytest.fixture
def invited(world, settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    sent = invitation_create(
        acting_user=world.supervisor,
        first_name="Sunita",
        last_name="Devi",
        mobile="98765 43210",
        facility=world.facility,
        base_url="https://prahari.example/",
    )
    yield sent.user, sent.url.rstrip("/").rsplit("/", 1)[-1]
    sms.outbox.clear()


@given(body=st.one_of(form_data(ENROL_FIELDS), raw_query(list(ENROL_FIELDS))))
def test_the_enrolment_form_refuses_bad_input_and_changes_nothing(invited, body):
    user, token = invited
    path = f"/accounts/enrol/{token}/"
    client = Client()
    assert client.get(path).status_code == 200  # the page creates the unconfirmed authenticator once
    if isinstance(body, dict):
        body.pop("send_sms", None)  # sending a code is taken, not refused (tests/accounts/test_onboarding.py)
    before = snapshot(REFUSAL_WRITES)
    response = post_raw(client, path, body) if isinstance(body, str) else client.post(path, body)
    assert_not_500(response)
    assert response.status_code in (200, 400)
    assert changed(before, snapshot(REFUSAL_WRITES)) == []
    account = User.objects.get(pk=user.pk)
    assert account.status == Status.INVITED and not account.has_usable_password()
    assert not RegisteredDevice.objects.filter(user=user).exists()


@given(
    token=st.one_of(NASTY.map(lambda s: s.replace("/", "")[:300]), st.from_regex(r"[A-Za-z0-9_-]{20,60}")),
    method=st.sampled_from(["GET", "POST"]),
)
def test_a_wrong_link_is_a_410_whatever_it_holds(invited, token, method):
    client = Client()
    before = snapshot(SESSIONS)
    response = client.generic(method, f"/accounts/enrol/{token}/") if token else client.get("/accounts/enrol//")
    assert_not_500(response)
    assert response.status_code in (404, 410)
    assert changed(before, snapshot(SESSIONS)) == []


@given(
    body=st.one_of(
        form_data({"totp-token": st.from_regex(r"[0-9 ]{1,8}", fullmatch=True)}), raw_query(["totp-token", "token"])
    )
)
def test_adding_an_authenticator_refuses_a_wrong_code(world, body):
    client = Client()  # a fresh sign-in each time: the page is open only within minutes of a login
    by_sms = SMSDevice.objects.get_or_create(
        user=world.worker, name="mobile", defaults={"number": "+919876543210", "confirmed": True}
    )[0]
    sign_in(client, world.worker)
    TOTPDevice.objects.filter(user=world.worker).delete()  # the app sign_in made: as if signed in by SMS
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = by_sms.persistent_id
    session.save()
    assert client.post("/accounts/security/app/add/")["Location"] == "/accounts/security/app/"
    before = snapshot(REFUSAL_WRITES)
    path = "/accounts/security/app/"
    response = post_raw(client, path, body) if isinstance(body, str) else client.post(path, body)
    assert_not_500(response)
    assert response.status_code == 200  # the page again, with the error beside the code
    assert changed(before, snapshot(REFUSAL_WRITES)) == []
    assert not TOTPDevice.objects.filter(user=world.worker, confirmed=True).exists()


# --- The invitation itself, from the console ---------------------------------------------------------------


def _taken(response) -> bool:
    """The console reported invitations sent (one from the form, or rows from a file)."""
    from django.contrib import messages

    added = getattr(response.wsgi_request._messages, "_queued_messages", [])
    return any(m.level == messages.SUCCESS for m in added)


@given(
    body=st.one_of(
        form_data(
            {
                "first_name": NASTY,
                "last_name": NASTY,
                "mobile": st.one_of(NASTY, st.from_regex(r"\+?[0-9 ]{1,20}", fullmatch=True)),
                "email": NASTY,
                "role": st.sampled_from(["worker", "supervisor", "state_admin", "system", ""]),
                "facility": st.one_of(st.integers().map(str), NASTY),
                "district": st.one_of(st.integers().map(str), NASTY),
            }
        ),
        raw_query(["first_name", "last_name", "mobile", "email", "role", "facility", "district"]),
    )
)
def test_the_invitation_form_refuses_bad_input_and_changes_nothing(client, world, settings, body):
    settings.SMS_BACKEND = "locmem"
    sign_in(client, world.supervisor)
    path = "/admin/accounts/user/invite/"
    before = snapshot(SESSIONS)
    response = post_raw(client, path, body) if isinstance(body, str) else client.post(path, body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 403)
    if not _taken(response):
        assert changed(before, snapshot(SESSIONS)) == []
    sms.outbox.clear()


@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(st.lists(NASTY.map(lambda s: s[:60]), min_size=1, max_size=7), max_size=5).map(
            lambda rows: "\n".join(",".join(row) for row in [["first_name", "last_name", "mobile"], *rows]).encode(
                "utf-8", "surrogatepass"
            )
        ),
    ),
    facility=st.one_of(st.just("own"), st.integers().map(str), NASTY),
    import_valid=st.sampled_from(["", "on", "1", "false"]),
)
def test_a_file_of_invitations_refuses_bad_rows_and_changes_nothing(
    client, world, settings, content, facility, import_valid
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SMS_BACKEND = "locmem"
    sign_in(client, world.supervisor)
    body = {
        "facility": str(world.facility.pk) if facility == "own" else facility,
        "file": SimpleUploadedFile("workers.csv", content, content_type="text/csv"),
        "import_valid_rows": import_valid,
    }
    before = snapshot(SESSIONS)
    response = client.post("/admin/accounts/user/invite-file/", body)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 403)
    if not _taken(response):
        assert changed(before, snapshot(SESSIONS)) == []
    sms.outbox.clear()
