"""Nothing of another district shows anywhere on a console list: rows, filters, counts, links (issue 7 §Scoping).

Every model the console registers is listed by district B's supervisor while district A is full of
objects; no name, username, facility or district of A may appear on the page, whatever the model.
"""

from __future__ import annotations

import pytest
from django.contrib import admin

from tests.accounts.test_console_scoping import objects_of_district_a
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

DISTRICT_A = ("asha", "ravi", "meena", "PHC Chinhat", "PHC Mohanlalganj", "Lucknow", "ASHA0001")


def _changelists():
    for model in admin.site._registry:
        yield f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


@pytest.mark.parametrize("url", sorted(_changelists()))
@pytest.mark.parametrize("viewer", ["far_supervisor", "other_state_admin"])
def test_no_list_shows_anything_of_another_jurisdiction(client, world, url, viewer):
    objects_of_district_a(world)
    sign_in(client, getattr(world, viewer))
    response = client.get(url)
    assert response.status_code in (200, 403), response.status_code
    page = response.content.decode()
    forbidden = DISTRICT_A if viewer == "far_supervisor" else (*DISTRICT_A, "Uttar Pradesh", "Varanasi")
    assert [name for name in forbidden if name in page] == []


def test_a_superuser_sees_a_state_and_district_before_they_have_facilities(client, world):
    from accounts.models import District, State
    from tests.factories import UserFactory

    state = State.objects.create(code="27", name="Maharashtra")
    District.objects.create(state=state, code="519", name="Pune")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    sign_in(client, root)
    assert "Maharashtra" in client.get("/admin/accounts/state/").content.decode()
    assert "Pune" in client.get("/admin/accounts/district/").content.decode()
