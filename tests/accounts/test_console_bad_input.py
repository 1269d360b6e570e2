"""Bad input to the console's new pages ends in a page or a 404, never a 500, and changes nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib import admin
from django.test import RequestFactory

from accounts.admin_common import CappedPaginator
from accounts.models import AccountEvent, Alert
from tests.accounts.test_console_scoping import objects_of_district_a
from tests.conftest import sign_in
from tests.factories import UserFactory, WorkerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/admin/accounts/user/?p=50", 200),  # past the capped count's last page
        ("/admin/accounts/user/?p=abc", 200),
        ("/admin/records/accessevent/?p=99", 200),
        ("/admin/accounts/alert/999999/change/", 404),
        ("/admin/accounts/alert/abc/change/", 404),
        ("/admin/accounts/user/abc/history/", 404),
    ],
)
def test_odd_urls_give_a_page_or_a_404(client, world, monkeypatch, url, status):
    monkeypatch.setattr(CappedPaginator, "CAP", 3)
    for _ in range(10):
        WorkerFactory(facility=world.facility)
    sign_in(client, world.supervisor)
    assert client.get(url).status_code == status


@pytest.mark.parametrize(
    "data",
    [{"decision": "nonsense"}, {}, {"decision": "confirm"}, {"decision": "suspend", "suspend-reason": "x" * 5000}],
)
def test_a_malformed_decision_changes_nothing(client, world, data):
    alert = Alert.objects.create(rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={})
    sign_in(client, world.supervisor)
    response = client.post(f"/admin/accounts/alert/{alert.pk}/change/", data)
    assert response.status_code in (200, 302)
    alert.refresh_from_db()
    world.worker.refresh_from_db()
    assert (alert.status, world.worker.status) == ("open", "active")


def test_evidence_the_page_cannot_read_still_shows_the_page(client, world):
    alert = Alert.objects.create(
        rule="night_views", severity=Alert.Severity.MEDIUM, subject=world.worker, evidence={"views": "many", "x": [1]}
    )
    sign_in(client, world.supervisor)
    assert client.get(f"/admin/accounts/alert/{alert.pk}/change/").status_code == 200


# --- Fuzz: every console URL with NUL bytes, over-long values, bad dates and unknown parameters ----------

NUL = "\x00"
LONG = "9" * 10_000
BAD_IDS = (NUL, LONG, "-1", "१२३")  # the last: Devanagari digits


def _console_lists():
    for model, model_admin in admin.site._registry.items():
        yield f"/admin/{model._meta.app_label}/{model._meta.model_name}/", model_admin


def _list_queries(model_admin) -> list[dict]:
    """The odd query strings a list must answer with a page or a 400, never a 500."""
    queries = [
        {"q": NUL},
        {"q": LONG},
        {"p": NUL, "o": "99.-98", "all": "", "_facets": "1"},
        {"o": NUL, "e": NUL},
        {"_popup": "1", "_to_field": "password"},
        {"no_such_parameter": "1"},
        {"status__in": f"a,b,{NUL}"},
        {NUL: "1"},
    ]
    request = RequestFactory().get("/")
    request.user = UserFactory.build(is_superuser=True)
    for parameter in model_admin.declared_lookups(request) - {f"{model_admin.date_hierarchy}__year"}:
        queries += [{parameter: NUL}, {parameter: LONG}, {parameter: "2024-13-45"}]
    if model_admin.date_hierarchy:
        year, month, day = (f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day"))
        queries += [
            {year: "99999"},
            {year: "9999"},
            {year: "0"},
            {year: "abc"},
            {year: "2026", month: "13"},
            {year: "2026", month: "2", day: "30"},
            {month: "1"},
        ]
    return queries


def _console_pages(objects) -> list[str]:
    """Every other console page: with real objects' ids, and with ids no path should take."""
    pages = ["/admin/", "/admin/accounts/", "/admin/records/", "/admin/jsi18n/", "/admin/accounts/user/invite/"]
    pages += ["/admin/accounts/user/invite-file/", f"/admin/accounts/user/{objects['user'].pk}/review/"]
    for url, _model_admin in _console_lists():
        for object_id in BAD_IDS:
            quoted = quote(object_id, safe="")
            pages += [f"{url}{quoted}/change/", f"{url}{quoted}/history/", f"{url}{quoted}/history/{quoted}/"]
    for name, obj in objects.items():
        app = "records" if name == "accessevent" else "accounts"
        pages += [f"/admin/{app}/{name}/{obj.pk}/history/?p={NUL}", f"/admin/{app}/{name}/{obj.pk}/change/?x={NUL}"]
    return pages


@pytest.mark.parametrize("viewer", ["supervisor", "superuser"])  # the superuser opens the installed apps' lists
def test_no_console_url_answers_bad_input_with_a_500(client, world, viewer):
    objects = objects_of_district_a(world)
    user = UserFactory(username="root", is_superuser=True, is_staff=True) if viewer == "superuser" else None
    sign_in(client, user or getattr(world, viewer))
    failures = []
    for url, model_admin in _console_lists():
        for query in _list_queries(model_admin):
            status = client.get(url, query).status_code
            must_refuse = any(NUL in key + value for key, value in query.items()) or "99999" in query.values()
            if status >= 500 or (must_refuse and status not in (400, 403)):
                failures.append((url, query, status))
    for page in _console_pages(objects):
        status = client.get(page).status_code
        if status >= 500:
            failures.append((page, status))
    autocomplete = {"app_label": "accounts", "model_name": "invitation", "field_name": "user", "term": NUL}
    for query in (autocomplete, {**autocomplete, "field_name": NUL}, {**autocomplete, "term": LONG}):
        if (status := client.get("/admin/autocomplete/", query).status_code) >= 500:
            failures.append(("autocomplete", query, status))
    assert failures == []
    assert set(AccountEvent.objects.values_list("subject", flat=True)) == {world.worker.pk}  # nothing written
