"""Scoping in the console, model by model: a supervisor of another district can list, search or open
nothing of this district's (issue 7 §Scoping; the checks the console already makes, asserted per model)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AccountEvent, Alert, Invitation, LoginHold, RegisteredDevice
from governance.models import AccessReview
from records.audit import access_event_append
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def objects_of_district_a(world) -> dict:
    """One object of each console model that belongs to the worker asha (district A, Lucknow)."""
    asha = world.worker
    return {
        "user": asha,
        "invitation": Invitation.objects.create(
            user=asha, invited_by=world.supervisor, token_hash="f" * 64, expires_at=asha.date_joined
        ),
        "registereddevice": RegisteredDevice.objects.create(user=asha, token_hash="e" * 64, code="ASHA0001"),
        "alert": Alert.objects.create(rule="night_views", severity=Alert.Severity.MEDIUM, subject=asha, evidence={}),
        "accessreview": AccessReview.objects.create(
            user=asha,
            reviewer=world.supervisor,
            decision="attest",
            reason="still works here",
            period_start=asha.date_joined,
            period_end=asha.date_joined,
        ),
        "loginhold": LoginHold.objects.create(user=asha, lockouts=3),
        "accountevent": AccountEvent.objects.create(type=100, actor=world.supervisor, subject=asha),
        "facility": world.facility,
        "accessevent": access_event_append(actor=asha, action="view", outcome="allowed", purpose="due_dose"),
    }


APP = {"accessevent": "records", "accessreview": "governance"}


@pytest.mark.parametrize(
    "model",
    [
        "user",
        "invitation",
        "registereddevice",
        "alert",
        "accessreview",
        "loginhold",
        "accountevent",
        "facility",
        "accessevent",
    ],
)
def test_another_districts_supervisor_sees_nothing_of_it(client, world, model):
    obj = objects_of_district_a(world)[model]
    app = APP.get(model, "accounts")
    changelist = reverse(f"admin:{app}_{model}_changelist")
    change = reverse(f"admin:{app}_{model}_change", args=[obj.pk])

    sign_in(client, world.supervisor)  # district A's own supervisor: the object is there
    own = client.get(changelist)
    assert own.status_code == 200 and obj in own.context["cl"].result_list
    assert client.get(change).status_code == 200

    client.logout()
    sign_in(client, world.far_supervisor)  # district B's
    listing = client.get(changelist)
    assert listing.status_code == 200 and obj not in listing.context["cl"].result_list
    search = client.get(changelist, {"q": "asha"})
    assert obj not in search.context["cl"].result_list
    opened = client.get(change)
    assert opened.status_code in (302, 404) and b"asha" not in opened.content
    if opened.status_code == 302:  # Django's admin answers a missing object with a redirect to the index
        assert opened["Location"] == reverse("admin:index")


@pytest.mark.parametrize("model", ["user", "invitation", "registereddevice", "alert", "facility", "beneficiary"])
def test_another_districts_supervisor_gets_404_on_the_history_page(client, world, model):
    """simple_history's own page falls back to the last historical copy of an object it cannot find in the
    admin's queryset; ours answers 404 for an object outside the viewer's scope."""
    from records.models import Beneficiary
    from tests.records.conftest import make_record

    if model == "beneficiary":
        obj = make_record("10000000000001", world.facility)
        obj.mobile, obj._history_user, obj._change_reason = "+919876511111", world.supervisor, "camp register"
        obj.save()
    else:
        obj = objects_of_district_a(world)[model]
    app = "records" if isinstance(obj, Beneficiary) else "accounts"
    url = reverse(f"admin:{app}_{model}_history", args=[obj.pk])

    sign_in(client, world.supervisor)  # district A's own supervisor reads it
    assert client.get(url).status_code == 200

    client.logout()
    sign_in(client, world.far_supervisor)  # district B's gets the same 404 as for an id nobody has
    refused = client.get(url)
    assert refused.status_code == 404 and b"asha" not in refused.content and b"camp register" not in refused.content


@pytest.mark.parametrize("decision", ["confirm", "dismiss", "suspend"])
def test_another_districts_supervisor_can_neither_read_nor_decide_an_alert(client, world, decision):
    """The alert page (governance/admin_alerts.py) is a 404 outside the jurisdiction, for reading and for each
    decision, and nothing changes; the district's own supervisor reads it."""
    alert = objects_of_district_a(world)["alert"]
    page = reverse("admin:accounts_alert_change", args=[alert.pk])
    sign_in(client, world.supervisor)
    assert client.get(page).status_code == 200

    client.logout()
    sign_in(client, world.far_supervisor)
    opened = client.get(page)
    assert opened.status_code == 404 and b"asha" not in opened.content
    prefix = "suspend" if decision == "suspend" else "decide"
    posted = client.post(page, {"decision": decision, f"{prefix}-reason": "not my district"})
    assert posted.status_code == 404 and b"asha" not in posted.content
    alert.refresh_from_db()
    world.worker.refresh_from_db()
    assert (alert.status, world.worker.status) == ("open", "active")
