"""The console's history of changes to records: scoped, masked, and not a record read (no access event,
no budget spent, no record contents; the canary flag never shown)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from records.models import AccessChainHead, AccessEvent
from tests.conftest import sign_in
from tests.records.conftest import make_record

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/records/beneficiary/"


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def corrected(record, *, by, reason, **fields):
    for name, value in fields.items():
        setattr(record, name, value)
    record._history_user, record._change_reason = by, reason
    record.save()
    return record


def test_only_changed_records_in_scope_are_listed_by_reference_id(client, world, records):
    corrected(records.own, by=world.supervisor, reason="mobile corrected at the camp", mobile="+919876511111")
    corrected(records.far, by=world.far_supervisor, reason="typo", name="Geeta Devii")
    sign_in(client, world.supervisor)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [records.own]  # not the unchanged ones, not another district's
    body = text(page)
    assert records.own.reference_id in body and "Sunita" not in body and "5678" not in body
    assert list(client.get(CHANGELIST, {"q": records.own.reference_id[:10]}).context["cl"].result_list) == []


def test_history_shows_who_and_why_with_identity_fields_masked(client, world, records):
    corrected(
        records.own,
        by=world.supervisor,
        reason="camp register",
        name="Sunita Devi Yadav",
        mobile="+919876511111",
        id_number="999988887777",
        year_of_birth=1985,
        is_canary=True,
    )
    sign_in(client, world.supervisor)
    url = reverse("admin:records_beneficiary_history", args=[records.own.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = text(response)
    assert "dio.lucknow" in body and "camp register" in body
    assert "Mobile number: +91******0001 → +91******1111" in body
    assert "Identity document number: XXXX XXXX 5678 → XXXX XXXX 7777" in body
    assert "Name: S. Y. → S. D. Y." in body
    assert "Year of birth: (not shown) → (not shown)" in body
    for secret in ("9876511111", "999988887777", "Sunita", "1985", "1984"):
        assert secret not in body
    assert "anary" not in body  # neither the field nor its value
    assert client.get(reverse("admin:records_beneficiary_change", args=[records.own.pk]))["Location"] == url


def test_reading_the_history_is_not_a_record_read(client, world, records):
    corrected(records.own, by=world.supervisor, reason="fix", mobile="+919876511111")
    sign_in(client, world.supervisor)
    assert client.get(reverse("admin:records_beneficiary_history", args=[records.own.pk])).status_code == 200
    assert not AccessEvent.objects.filter(actor=world.supervisor).exists()
    assert not AccessChainHead.objects.filter(actor=world.supervisor, lookups__gt=0).exists()


def test_another_districts_supervisor_gets_404(client, world, records):
    corrected(records.own, by=world.supervisor, reason="fix", mobile="+919876511111")
    sign_in(client, world.far_supervisor)
    assert client.get(reverse("admin:records_beneficiary_history", args=[records.own.pk])).status_code == 404
    assert client.get(reverse("admin:records_beneficiary_change", args=[records.own.pk])).status_code == 404
    assert records.own not in client.get(CHANGELIST).context["cl"].result_list


def test_a_worker_has_no_console_page_of_records(client, world, records):
    corrected(records.own, by=world.supervisor, reason="fix", mobile="+919876511111")
    sign_in(client, world.worker)
    response = client.get(reverse("admin:records_beneficiary_history", args=[records.own.pk]))
    assert response.status_code in (302, 403, 404)
    assert b"+91******" not in response.content


def test_an_unchanged_record_has_no_console_page(client, world, records):
    sign_in(client, world.supervisor)
    assert client.get(reverse("admin:records_beneficiary_history", args=[records.same_district.pk])).status_code == 404
    assert make_record("10000000000009", world.facility).history.count() == 1
