"""The record page tells the worker, as the record opens, whether anything explains the look-up: asked in
the read path's own find of the record, so it costs no query more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.keys import Purpose
from records.models import Appointment, Dose
from records.services import record_get_for_viewer
from tests.conftest import sign_in
from tests.records.conftest import viewer

pytestmark = pytest.mark.django_db
WARNING = "Nothing explains this look-up yet"


def view(world, record, purpose=Purpose.DUE_DOSE):
    return record_get_for_viewer(viewer=viewer(world.worker), reference_id=record.reference_id, purpose=purpose)


def test_an_appointment_explains_the_look_up_as_it_opens(world, records):
    assert view(world, records.own, Purpose.SESSION_PLANNING).explained_by is None
    Appointment.objects.create(beneficiary=records.own, facility=world.facility, date=timezone.localdate())
    assert view(world, records.own, Purpose.SESSION_PLANNING).explained_by == "appointment"
    assert view(world, records.own, Purpose.ADVERSE_EVENT).explained_by is None  # the purpose must fit


def test_a_recent_dose_given_here_explains_a_certificate(world, records):
    Dose.objects.create(
        beneficiary=records.own,
        vaccine="Measles",
        dose_number=1,
        given_on=timezone.localdate() - timedelta(days=3),
        facility=world.facility,
    )
    assert view(world, records.own, Purpose.CERTIFICATE).explained_by == "dose"


def test_the_page_says_when_a_look_up_will_count_as_unexplained(world, records, client):
    sign_in(client, world.worker)
    url = f"/records/{records.own.reference_id}/?purpose={Purpose.SESSION_PLANNING}"
    page = client.get(url)
    assert page.status_code == 200 and WARNING in page.content.decode()
    Appointment.objects.create(beneficiary=records.own, facility=world.facility, date=timezone.localdate())
    assert WARNING not in client.get(url).content.decode()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    page = client.get(f"/records/{records.own.reference_id}/?purpose={Purpose.ADVERSE_EVENT}").content.decode()
    assert "इस रिकॉर्ड को देखने का अभी कोई कारण दर्ज नहीं है" in page


def test_asking_costs_no_query_more(world, records):
    view(world, records.own)  # the worker's first look-up also starts their chain
    with CaptureQueriesContext(connection) as unexplained:
        view(world, records.own)
    Appointment.objects.create(beneficiary=records.own, facility=world.facility, date=timezone.localdate())
    with CaptureQueriesContext(connection) as explained:
        assert view(world, records.own).explained_by == "appointment"
    assert len(explained) == len(unexplained) <= 8
