"""accounts/services/passkeys.py: registration, use, the clone rule, revocation, the role policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from accounts.exceptions import IllegalTransition, NotPermitted
from accounts.models import AccountEvent, AccountEventType, Alert, Notification, UserSession
from accounts.services import passkeys
from tests.passkey_authenticator import SoftAuthenticator, register


def _session(user, key: str, passkey=None) -> UserSession:
    return UserSession.objects.create(
        session_key=key, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=user, passkey=passkey
    )


def test_registration_keeps_a_usable_passkey_and_records_it(world):
    passkey, _ = register(world.worker, name="Asha's phone")
    assert passkey.confirmed and passkey.name == "Asha's phone" and passkey.user == world.worker
    event = AccountEvent.objects.get(type=AccountEventType.PASSKEY_REGISTERED)
    assert (event.actor, event.subject, event.data["passkey"]) == (world.worker, world.worker, passkey.pk)
    assert Notification.objects.filter(user=world.worker, kind="otp_device_changed").exists()


def test_registration_from_another_origin_is_refused_and_keeps_nothing(world):
    options, state = passkeys.passkey_registration_begin(user=world.worker)
    data = SoftAuthenticator().create(options, origin="https://prahari.example.evil")
    with pytest.raises(passkeys.PasskeyError, match="origin"):
        passkeys.passkey_registration_complete(user=world.worker, state=state, data=data, name="x", ip=None)
    assert not WebAuthnCredential.objects.exists()
    assert not AccountEvent.objects.filter(type=AccountEventType.PASSKEY_REGISTERED).exists()


def test_registration_needs_the_challenge_it_was_given(world):
    options, _ = passkeys.passkey_registration_begin(user=world.worker)
    _, other_state = passkeys.passkey_registration_begin(user=world.worker)
    data = SoftAuthenticator().create(options)
    with pytest.raises(passkeys.PasskeyError):
        passkeys.passkey_registration_complete(user=world.worker, state=other_state, data=data, name="x", ip=None)
    with pytest.raises(passkeys.PasskeyError, match="expired"):
        passkeys.passkey_registration_complete(user=world.worker, state=None, data=data, name="x", ip=None)
    with pytest.raises(passkeys.PasskeyError):
        passkeys.passkey_registration_complete(user=world.worker, state=other_state, data="{not json", name="", ip=None)


def test_a_passkey_signs_and_its_count_moves_on(world):
    passkey, authenticator = register(world.worker)
    options, state = passkeys.passkey_authentication_begin(user=world.worker)
    assert [c["id"] for c in options["allowCredentials"]] == [_b64(passkey)]
    used = passkeys.passkey_authenticate(user=world.worker, state=state, data=authenticator.get(options), ip=None)
    assert used.pk == passkey.pk
    passkey.refresh_from_db()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None


def _b64(passkey) -> str:
    from tests.passkey_authenticator import b64

    return b64(bytes(passkey.credential_id))


def test_another_users_passkey_does_not_sign_for_this_one(world):
    _, authenticator = register(world.worker)
    options, state = passkeys.passkey_authentication_begin(user=world.colleague)
    with pytest.raises(passkeys.PasskeyError):
        passkeys.passkey_authenticate(user=world.colleague, state=state, data=authenticator.get(options), ip=None)


def test_a_sign_count_going_back_suspends_the_passkey_and_alerts(world):
    passkey, authenticator = register(world.supervisor)
    options, state = passkeys.passkey_authentication_begin(user=world.supervisor)
    passkeys.passkey_authenticate(
        user=world.supervisor, state=state, data=authenticator.get(options, sign_count=5), ip=None
    )
    opened = _session(world.supervisor, "opened-by-passkey", passkey)
    options, state = passkeys.passkey_authentication_begin(user=world.supervisor)
    copy = authenticator.get(options, sign_count=3)
    with pytest.raises(passkeys.PasskeyCloned):
        passkeys.passkey_authenticate(user=world.supervisor, state=state, data=copy, ip="10.0.0.9")
    passkey.refresh_from_db()
    assert not passkey.confirmed and passkey.sign_count == 5
    alert = Alert.objects.get(rule="passkey_clone")
    assert (alert.subject, alert.severity) == (world.supervisor, Alert.Severity.HIGH)
    assert alert.evidence["sign_count_seen"] == 3 and alert.evidence["sign_count_known"] == 5
    assert AccountEvent.objects.filter(type=AccountEventType.PASSKEY_SUSPENDED, subject=world.supervisor).exists()
    assert not UserSession.objects.filter(pk=opened.pk).exists()
    assert [row.state for row in passkeys.passkey_list_for_user(user=world.supervisor)] == ["suspended"]


def test_a_forged_low_count_without_the_key_is_refused_but_suspends_nothing(world):
    """The count is compared only once the signature is proven: nobody can suspend a passkey they do not hold."""
    passkey, authenticator = register(world.supervisor)
    options, state = passkeys.passkey_authentication_begin(user=world.supervisor)
    passkeys.passkey_authenticate(
        user=world.supervisor, state=state, data=authenticator.get(options, sign_count=5), ip=None
    )
    options, state = passkeys.passkey_authentication_begin(user=world.supervisor)
    forged = authenticator.get(options, sign_count=1, forge=True)
    with pytest.raises(passkeys.PasskeyError) as refused:
        passkeys.passkey_authenticate(user=world.supervisor, state=state, data=forged, ip=None)
    assert not isinstance(refused.value, passkeys.PasskeyCloned)
    passkey.refresh_from_db()
    assert passkey.confirmed and not Alert.objects.exists()


def test_revoking_ends_the_sessions_the_passkey_opened_and_no_other(world):
    passkey, _ = register(world.worker)
    by_passkey = _session(world.worker, "by-passkey", passkey)
    by_code = _session(world.worker, "by-code")
    passkeys.passkey_revoke(passkey=passkey, acting_user=world.worker, reason="lost my phone", ip="10.0.0.2")
    assert not UserSession.objects.filter(pk=by_passkey.pk).exists()
    assert UserSession.objects.filter(pk=by_code.pk).exists()
    passkey.refresh_from_db()
    assert not passkey.confirmed
    event = AccountEvent.objects.get(type=AccountEventType.PASSKEY_REVOKED)
    assert (event.actor, event.reason, event.data["sessions_ended"]) == (world.worker, "lost my phone", 1)
    with pytest.raises(IllegalTransition):
        passkeys.passkey_revoke(passkey=passkey, acting_user=world.worker, reason="again")


def test_recovery_is_the_governors(world):
    """A worker's supervisor may withdraw the worker's passkey; a supervisor's, the state administrator."""
    worker_key, _ = register(world.worker)
    supervisor_key, _ = register(world.supervisor)
    with pytest.raises(NotPermitted):
        passkeys.passkey_revoke(passkey=worker_key, acting_user=world.far_supervisor, reason="not mine")
    with pytest.raises(NotPermitted):
        passkeys.passkey_revoke(passkey=supervisor_key, acting_user=world.peer_supervisor, reason="a peer")
    passkeys.passkey_revoke(passkey=worker_key, acting_user=world.supervisor, reason="phone lost, called me")
    passkeys.passkey_revoke(passkey=supervisor_key, acting_user=world.state_admin, reason="key lost, called me")
    assert not WebAuthnCredential.objects.filter(confirmed=True).exists()


def test_codes_are_refused_only_for_required_roles_that_have_a_passkey(world, settings):
    assert not passkeys.codes_refused(world.supervisor)
    register(world.supervisor)
    register(world.worker)
    assert passkeys.codes_refused(world.supervisor)
    assert not passkeys.codes_refused(world.worker)  # a worker's passkey stands beside their codes
    settings.PRAHARI_PASSKEY_REQUIRED_ROLES = ["worker"]
    assert passkeys.codes_refused(world.worker) and not passkeys.codes_refused(world.supervisor)


def test_the_deadline_bars_required_roles_without_a_passkey(world, settings):
    settings.PRAHARI_PASSKEY_DEADLINE = ""
    assert not passkeys.passkey_overdue(world.supervisor)  # no deadline: nothing enforced
    settings.PRAHARI_PASSKEY_DEADLINE = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert not passkeys.passkey_overdue(world.supervisor)
    settings.PRAHARI_PASSKEY_DEADLINE = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert passkeys.passkey_overdue(world.supervisor) and passkeys.passkey_overdue(world.state_admin)
    assert not passkeys.passkey_overdue(world.worker)
    register(world.supervisor)
    assert not passkeys.passkey_overdue(world.supervisor)
