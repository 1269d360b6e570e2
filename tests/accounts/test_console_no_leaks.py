"""Nothing of another district shows anywhere on a console list: rows, filters, counts, links (issue 7 §Scoping).

Every model the console registers is listed by district B's supervisor while district A is full of
objects; no name, username, facility or district of A may appear on the page, whatever the model. Each
role's answer is exact, model by model: the lists it governs answer 200 (a list refused with 403 would
show nothing and prove nothing), the operator's tables (superusers only) 403, and a model registered
later is refused until it is named here.
"""

from __future__ import annotations

import pytest
from django.contrib import admin

from tests.accounts.test_console_scoping import objects_of_district_a
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

DISTRICT_A = ("asha", "ravi", "meena", "PHC Chinhat", "PHC Mohanlalganj", "Lucknow", "ASHA0001")

# The lists each role governs (docs/console.md); every other registered model is the operator's.
SUPERVISOR_LISTS = {
    "accounts.accountevent",
    "accounts.alert",
    "accounts.district",
    "accounts.facility",
    "accounts.invitation",
    "accounts.loginhold",
    "accounts.registereddevice",
    "accounts.user",
    "governance.accessreview",
    "records.accessevent",
    "records.accessexplanation",
    "records.beneficiary",
}
LISTS = {"supervisor": SUPERVISOR_LISTS, "state_admin": SUPERVISOR_LISTS | {"accounts.state"}}
OPERATOR_ONLY = {
    "auth.group",
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
    "django_celery_beat.clockedschedule",
    "django_celery_beat.crontabschedule",
    "django_celery_beat.intervalschedule",
    "django_celery_beat.periodictask",
    "django_celery_beat.solarschedule",
    "otp_email.emaildevice",
    "otp_static.staticdevice",
    "otp_totp.totpdevice",
}


def _models() -> list[str]:
    return sorted(model._meta.label_lower for model in admin.site._registry)


def _url(label: str) -> str:
    app_label, model_name = label.split(".")
    return f"/admin/{app_label}/{model_name}/"


def test_every_registered_model_is_named_once():
    assert set(_models()) == LISTS["state_admin"] | OPERATOR_ONLY
    assert not LISTS["state_admin"] & OPERATOR_ONLY


@pytest.mark.parametrize("model", _models())
@pytest.mark.parametrize("viewer", ["far_supervisor", "other_state_admin"])
def test_no_list_shows_anything_of_another_jurisdiction(client, world, model, viewer):
    objects_of_district_a(world)
    user = getattr(world, viewer)
    sign_in(client, user)
    response = client.get(_url(model))
    assert response.status_code == (200 if model in LISTS[user.role] else 403)
    page = response.content.decode()
    forbidden = DISTRICT_A if viewer == "far_supervisor" else (*DISTRICT_A, "Uttar Pradesh", "Varanasi")
    assert [name for name in forbidden if name in page] == []


@pytest.mark.parametrize("viewer", ["supervisor", "state_admin"])
def test_the_jurisdictions_own_governors_get_the_same_lists_and_see_its_people(client, world, viewer):
    """The far viewers' empty pages above mean something: the same lists, to district A's own governors,
    answer the same statuses and show A's people."""
    objects_of_district_a(world)
    user = getattr(world, viewer)
    sign_in(client, user)
    statuses = {model: client.get(_url(model)).status_code for model in _models()}
    assert statuses == {model: 200 if model in LISTS[user.role] else 403 for model in _models()}
    assert "asha" in client.get(_url("accounts.user")).content.decode()
    assert "ASHA0001" in client.get(_url("accounts.registereddevice")).content.decode()


def test_a_superuser_sees_a_state_and_district_before_they_have_facilities(client, world):
    from accounts.models import District, State
    from tests.factories import UserFactory

    state = State.objects.create(code="27", name="Maharashtra")
    District.objects.create(state=state, code="519", name="Pune")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    sign_in(client, root)
    assert "Maharashtra" in client.get("/admin/accounts/state/").content.decode()
    assert "Pune" in client.get("/admin/accounts/district/").content.decode()
