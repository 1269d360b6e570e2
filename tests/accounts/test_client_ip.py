"""One client address, believed from X-Forwarded-For only behind a trusted proxy (issue 13 §3).

django-axes, the access log, the session and the rules read the same `client_ip`; a spoofed header
from anyone else changes nothing, and behind the proxy one client's failures are that client's alone.
"""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from axes.models import AccessFailureLog
from django.test import Client, RequestFactory

from accounts.request_info import client_ip
from accounts.session_store import SESSION_IP_KEY
from records.models import AccessEvent
from tests.accounts.test_login_flow import CODE, post_password, totp_now
from tests.accounts.test_login_flow import approved as approved  # the fixtures, reused
from tests.accounts.test_login_flow import phone as phone
from tests.accounts.test_login_lockouts import fail, later, password_passes
from tests.conftest import sign_in
from tests.records.conftest import make_record

PROXY, OTHER_PROXY = "10.0.0.5", "10.0.0.6"
ATTACKER, WORKER = "203.0.113.66", "198.51.100.9"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = (ip_network("10.0.0.0/24"),)


def ip_of(remote_addr, forwarded=None) -> str | None:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote_addr, **extra))


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = ()
    assert ip_of(ATTACKER, f"{WORKER}, 192.0.2.1") == ATTACKER


@pytest.mark.parametrize(
    ("remote_addr", "forwarded", "expected"),
    [
        (PROXY, WORKER, WORKER),
        (PROXY, f"1.2.3.4, {WORKER}", WORKER),  # what the client wrote on the left is its own claim
        (PROXY, f"{WORKER}, {OTHER_PROXY}", WORKER),  # two trusted proxies in a row
        (PROXY, f"{WORKER}:5678", WORKER),
        (PROXY, "[2001:DB8:0:0::1]:443", "2001:db8::1"),  # stored in the short form
        (PROXY, "::ffff:198.51.100.9", WORKER),
        (PROXY, f"{WORKER}, not-an-address", PROXY),  # the proxy never writes that: believe nothing left of it
        (PROXY, "", PROXY),
        (PROXY, None, PROXY),
        (OTHER_PROXY, f"{PROXY}, {OTHER_PROXY}", PROXY),  # only proxies: the furthest one
        (ATTACKER, WORKER, ATTACKER),  # a spoofed header from a peer that is no proxy
        ("garbage", WORKER, None),
    ],
)
def test_the_client_is_the_rightmost_address_that_is_no_trusted_proxy(behind_proxy, remote_addr, forwarded, expected):
    assert ip_of(remote_addr, forwarded) == expected


def test_the_setting_is_read_from_the_environment_and_refuses_bad_entries(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from portal.settings.env import env_networks

    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    assert [str(n) for n in env_networks("DJANGO_TRUSTED_PROXIES")] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
    with pytest.raises(ImproperlyConfigured, match=r"proxy\.example"):
        env_networks("DJANGO_TRUSTED_PROXIES")


@pytest.mark.django_db
def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(world, approved, behind_proxy):
    stuffer = Client(HTTP_X_FORWARDED_FOR=ATTACKER)
    for i in range(55):
        fail(stuffer, username=f"nobody-{i}", ip=PROXY)
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    approved.defaults["HTTP_X_FORWARDED_FOR"] = WORKER
    assert password_passes(approved, ip=PROXY)  # the real user, through the same proxy
    approved.defaults["HTTP_X_FORWARDED_FOR"] = ATTACKER
    assert not password_passes(approved, ip=PROXY)  # the stuffer's own address is refused


@pytest.mark.django_db
def test_a_spoofed_header_from_an_untrusted_peer_is_counted_against_the_peer(world, approved, behind_proxy):
    for i in range(55):
        fail(Client(HTTP_X_FORWARDED_FOR=f"192.0.2.{i}"), username=f"nobody-{i}", ip=ATTACKER)
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    approved.defaults["HTTP_X_FORWARDED_FOR"] = WORKER
    assert not password_passes(approved, ip=ATTACKER)  # a fresh header does not make a fresh client


@pytest.mark.django_db
def test_the_session_and_the_access_log_name_the_client_behind_the_proxy(world, approved, phone, behind_proxy):
    approved.defaults["HTTP_X_FORWARDED_FOR"] = f"1.2.3.4, {WORKER}"
    with later():
        assert password_passes(approved, ip=PROXY)
        response = approved.post(CODE, {"method": "totp", "token": totp_now(phone)}, REMOTE_ADDR=PROXY)
    assert response.status_code == 302 and response["Location"] == "/"
    assert approved.session[SESSION_IP_KEY] == WORKER

    record = make_record("10000000000001", world.facility)
    reader = Client(HTTP_X_FORWARDED_FOR=WORKER, REMOTE_ADDR=PROXY)
    sign_in(reader, world.colleague)
    assert reader.get(f"/records/{record.reference_id}/", {"purpose": "due_dose"}).status_code == 200
    assert list(AccessEvent.objects.values_list("ip_address", flat=True)) == [WORKER]


@pytest.mark.django_db
def test_without_trusted_proxies_a_login_is_counted_against_the_peer(world, settings):
    settings.TRUSTED_PROXIES = ()
    post_password(Client(), "nobody", "wrong password", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert list(AccessFailureLog.objects.values_list("ip_address", flat=True)) == [PROXY]
