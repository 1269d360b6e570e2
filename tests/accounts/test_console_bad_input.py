"""Bad input to the console's new pages ends in a page or a 404, never a 500, and changes nothing."""

from __future__ import annotations

import pytest

from accounts.admin_common import CappedPaginator
from accounts.models import Alert
from tests.conftest import sign_in
from tests.factories import WorkerFactory

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
