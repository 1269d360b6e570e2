"""One password hash per password attempt, whatever refuses it (flow.py: every failure before the code looks
the same, and takes the same time): a locked name, a held account, a refused address, a deactivated account,
an invited account without a password yet, as for a wrong password, an unknown name and a right one.

Hashes are counted by the configured hasher itself, not by timing: the test settings' MD5 hasher is replaced
by a subclass that counts its `encode` (MD5 computes every hash there, for `make_password` and `verify` alike).
"""

from __future__ import annotations

import pytest
from axes.models import AccessFailureLog
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher

from accounts.models import AccountEvent, AccountEventType, LoginHold, Status
from accounts.services.lifecycle import user_deactivate
from tests.accounts.test_login_flow import PASSWORD, post_password

pytestmark = pytest.mark.django_db
IP = "203.0.113.80"


class CountingMD5Hasher(MD5PasswordHasher):
    hashed: list[int] = []

    def encode(self, password, salt):
        CountingMD5Hasher.hashed.append(1)
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def counting_hasher(settings):
    md5 = "django.contrib.auth.hashers.MD5PasswordHasher"
    assert md5 in django_settings.PASSWORD_HASHERS  # the hasher every test account's password is stored with
    others = [h for h in django_settings.PASSWORD_HASHERS if h != md5]
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingMD5Hasher", *others]  # Django resets its hasher cache
    CountingMD5Hasher.hashed.clear()


def _locked(world, client, settings):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        post_password_from(client, "asha", "not the password, sorry")


def _held(world, client, settings):
    LoginHold.objects.create(user=world.worker, lockouts=3)


def _ip_refused(world, client, settings):
    settings.PRAHARI_IP_FAILURES_PER_HOUR = 3
    for i in range(3):
        AccessFailureLog.objects.create(
            username=f"nobody-{i}", ip_address=IP, user_agent="", http_accept="", path_info="/accounts/login/"
        )


def _inactive(world, client, settings):
    user_deactivate(user=world.worker, acting_user=world.supervisor, reason="left the service")
    world.worker.refresh_from_db()
    assert world.worker.is_active is False


def _invited(world, client, settings):
    # As onboarding's invitation leaves an account: invited, no usable password until enrolment sets one.
    world.worker.status = Status.INVITED
    world.worker.set_unusable_password()
    world.worker.save()


def post_password_from(client, username, password):
    return post_password(client, username, password, REMOTE_ADDR=IP)


SETUPS = {
    "locked": _locked,
    "held": _held,
    "ip_refused": _ip_refused,
    "inactive": _inactive,
    "invited": _invited,
}
CATEGORY = {"locked": "locked", "held": "held", "ip_refused": "ip_blocked", "inactive": "inactive"}


@pytest.mark.parametrize("password", [PASSWORD, "not the password, sorry"], ids=["right", "wrong"])
@pytest.mark.parametrize("path", list(SETUPS))
def test_a_refused_attempt_hashes_the_password_exactly_once(world, client, settings, path, password):
    SETUPS[path](world, client, settings)
    CountingMD5Hasher.hashed.clear()

    response = post_password_from(client, "asha", password)

    assert response.status_code == 200 and "Sign-in failed" in response.content.decode()  # refused, as any failure
    assert len(CountingMD5Hasher.hashed) == 1, f"{path}: {len(CountingMD5Hasher.hashed)} password hashes"
    if path in CATEGORY:
        latest = AccountEvent.objects.filter(subject=world.worker, type=AccountEventType.LOGIN_FAILED).first()
        assert latest.data["category"] == CATEGORY[path]


@pytest.mark.parametrize(
    ("username", "password", "goes_on"),
    [("asha", PASSWORD, True), ("asha", "not the password, sorry", False), ("nobody-here", PASSWORD, False)],
    ids=["right", "wrong", "unknown"],
)
def test_the_ordinary_attempts_hash_once_too(world, client, username, password, goes_on):
    CountingMD5Hasher.hashed.clear()  # the accounts the fixture made
    response = post_password_from(client, username, password)
    assert (response.status_code == 302) is goes_on
    assert len(CountingMD5Hasher.hashed) == 1
