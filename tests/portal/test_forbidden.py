"""A refusal is a page in the portal's look that says who may open what was refused, never a bare 403."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from portal.views import permission_denied
from tests.conftest import sign_in

SCHEDULES = "/admin/django_celery_beat/periodictask/"


@pytest.mark.django_db
def test_a_supervisor_is_told_who_keeps_the_job_schedules(world, client, settings):
    settings.DEBUG = False
    sign_in(client, world.supervisor)
    response = client.get(SCHEDULES)
    html = response.content.decode()
    assert response.status_code == 403
    assert "portal/prahari.css" in html and "You may not open this page" in html
    assert "kept by Prahari's operators" in html and 'href="/admin/"' in html
    assert "In this demo" not in html  # the demo's hint only where DEBUG is on


@pytest.mark.django_db
def test_in_the_demo_the_page_names_the_operator_account_and_speaks_hindi(world, client, settings):
    settings.DEBUG = True
    sign_in(client, world.state_admin)
    client.post("/i18n/setlang/", {"language": "hi", "next": "/"})
    html = client.get(SCHEDULES).content.decode()
    assert "“operator”" in html
    assert "यह पेज आप नहीं खोल सकते" in html and "You may not open this page" not in html


@pytest.mark.django_db
def test_any_other_refusal_says_whom_to_ask(world):
    request = RequestFactory().get("/somewhere/")
    request.user = world.worker
    response = permission_denied(request)
    html = response.content.decode()
    assert response.status_code == 403 and "ask your supervisor or your state administrator" in html
    assert "operators" not in html and 'href="/"' in html
