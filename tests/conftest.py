"""Shared fixtures: a small jurisdiction tree with one account of each role in and out of scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import District, Facility, State, User
from accounts.services.system import system_user
from tests.factories import (
    DistrictFactory,
    FacilityFactory,
    StateAdminFactory,
    StateFactory,
    SupervisorFactory,
    WorkerFactory,
)


@dataclass
class World:
    state: State
    district: District
    facility: Facility
    other_facility: Facility  # same district
    other_district: District  # same state
    far_facility: Facility  # in other_district
    other_state: State
    worker: User
    colleague: User  # another worker, same facility
    district_worker: User  # same district, other facility
    far_worker: User  # other district
    supervisor: User
    peer_supervisor: User  # same district's second supervisor
    far_supervisor: User  # other district, same state
    state_admin: User
    other_state_admin: User  # other state
    system: User


@pytest.fixture
def world(db) -> World:
    state = StateFactory(code="09", name="Uttar Pradesh")
    other_state = StateFactory(code="10", name="Bihar")
    district = DistrictFactory(state=state, code="164", name="Lucknow")
    other_district = DistrictFactory(state=state, code="175", name="Varanasi")
    facility = FacilityFactory(district=district, code="1090100001", name="PHC Chinhat")
    other_facility = FacilityFactory(district=district, code="1090100002", name="PHC Mohanlalganj")
    far_facility = FacilityFactory(district=other_district, code="1090200001", name="PHC Sarnath")
    return World(
        state=state,
        district=district,
        facility=facility,
        other_facility=other_facility,
        other_district=other_district,
        far_facility=far_facility,
        other_state=other_state,
        worker=WorkerFactory(username="asha", facility=facility),
        colleague=WorkerFactory(username="ravi", facility=facility),
        district_worker=WorkerFactory(username="meena", facility=other_facility),
        far_worker=WorkerFactory(username="kiran", facility=far_facility),
        supervisor=SupervisorFactory(username="dio.lucknow", district=district),
        peer_supervisor=SupervisorFactory(username="dio2.lucknow", district=district),
        far_supervisor=SupervisorFactory(username="dio.varanasi", district=other_district),
        state_admin=StateAdminFactory(username="sa.up", state=state),
        other_state_admin=StateAdminFactory(username="sa.br", state=other_state),
        system=system_user(),
    )


def sign_in(client, user, *, device=None):
    """Give `client` the session the login flow creates (password + OTP proven, approved device).

    For tests whose subject is not the login flow itself; tests/accounts/test_login_flow.py posts
    through the real pages.
    """
    from django.conf import settings
    from django.core import signing
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.login.device_cookie import SALT
    from accounts.login.session import AUTH_AT_KEY, DEVICE_KEY, SEEN_AT_KEY
    from accounts.models import RegisteredDevice
    from accounts.services.devices import device_token_hash, device_token_new

    otp_device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True
    )
    token = device_token_new()
    if device is None:
        device = RegisteredDevice.objects.create(
            user=user, token_hash=device_token_hash(token), code=token[:8].upper(), status="approved"
        )
    else:
        RegisteredDevice.objects.filter(pk=device.pk).update(token_hash=device_token_hash(token))
    client.force_login(user)
    session = client.session
    now = timezone.now().isoformat()
    session[DEVICE_ID_SESSION_KEY] = otp_device.persistent_id
    session[AUTH_AT_KEY] = now
    session[SEEN_AT_KEY] = now
    session[DEVICE_KEY] = device.pk
    session.save()
    name = settings.DEVICE_COOKIE_NAME
    client.cookies[name] = signing.get_cookie_signer(salt=name + SALT).sign(token)
    return device


_MIGRATION_DATA = (
    "accounts.migrations.0002_roles_and_system_actor",
    "accounts.migrations.0004_device_and_lockout_permissions",
    "accounts.migrations.0005_outbox_schedules",
    "accounts.migrations.0007_alert_permissions",
    "accounts.migrations.0009_undertaking_v1_and_onboarding_permissions",
    "accounts.migrations.0011_governance_schedules",
    "accounts.migrations.0012_anomaly_schedule",
    "records.migrations.0004_access_log_view_permission",
    "records.migrations.0007_beneficiary_history_view_permission",
    "records.migrations.0012_checkpoint_schedule",
    "records.migrations.0015_access_explanations",
    "records.migrations.0019_partitions_schedule",
)


@pytest.fixture(autouse=True)
def _migration_data_after_flush(request):
    """Transactional tests end with a flush, which also erases what data migrations created (role groups
    with their permissions, the system actor, beat schedules), and plugins may run them before other
    database tests. Before each database test, put that data back if it is gone, by running those
    migrations' own functions again (they are idempotent)."""
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    elif marker or "db" in request.fixturenames:
        request.getfixturevalue("db")
    else:
        return
    migration_data_restore()


def migration_data_restore() -> None:
    """Put back what the data migrations create (role groups, the system actor, beat schedules) when a
    transactional test's flush erased it; nothing when it is there."""
    from django.contrib.auth.models import Group

    if Group.objects.filter(name="supervisor").exists():
        return
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    apps = MigrationExecutor(connection).loader.project_state().apps
    for module in _MIGRATION_DATA:
        import_module(module).forwards(apps, None)


@pytest.fixture(autouse=True)
def _audit_checkpoints_apart(settings, tmp_path):
    """Each test writes and reads signed access-log checkpoints in a directory of its own, never under var/:
    another test's files name chains this test's database does not hold."""
    settings.PRAHARI_AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    settings.PRAHARI_AUDIT_CHECKPOINT_SYSLOG = None


@pytest.fixture(autouse=True)
def _undertaking_version_forgotten():
    """Each test starts without a remembered undertaking version (a rolled-back test may have published one)."""
    from accounts.services.undertakings import undertaking_version_forget

    undertaking_version_forget()
    yield
    undertaking_version_forget()


@pytest.fixture(autouse=True)
def _language_reset():
    """A request through LocaleMiddleware leaves its language active in the thread: each test starts in the
    default language (LANGUAGE_CODE), whatever the test before it asked for."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
