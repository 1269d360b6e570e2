"""Alerts: raised by a rule as the system actor, decided once by a governor of the subject, with a reason."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.exceptions import DomainError, IllegalTransition, NotPermitted
from accounts.models import Alert
from accounts.services.alerts import alert_confirm, alert_dismiss, alert_raise, alert_raise_many


@pytest.fixture
def alert(world):
    return alert_raise(
        rule="canary",
        severity=Alert.Severity.CRITICAL,
        subject=world.worker,
        evidence={"beneficiary": "10000000000001", "events": [41]},
        raised_by=world.system,
    )


@pytest.mark.django_db
def test_a_raised_alert_is_open_with_its_evidence_and_history(world, alert):
    assert (alert.status, alert.evidence["events"]) == ("open", [41])
    assert alert.history.first().history_user == world.system


@pytest.mark.django_db
@pytest.mark.parametrize(("decide", "status"), [(alert_confirm, "confirmed"), (alert_dismiss, "dismissed")])
def test_a_governor_decides_once_with_a_reason(world, alert, decide, status):
    decide(alert=alert, acting_user=world.supervisor, reason="called the worker")
    alert.refresh_from_db()
    assert (alert.status, alert.decided_by, alert.decision_reason) == (status, world.supervisor, "called the worker")
    assert alert.history.first().history_change_reason == "called the worker"
    with pytest.raises(IllegalTransition, match="already decided"):
        alert_dismiss(alert=alert, acting_user=world.state_admin, reason="second opinion")


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ["worker", "colleague", "far_supervisor", "other_state_admin"])
def test_only_the_subjects_governors_decide(world, alert, actor):
    with pytest.raises(NotPermitted):
        alert_confirm(alert=alert, acting_user=getattr(world, actor), reason="not mine to judge")
    alert.refresh_from_db()
    assert alert.status == "open"


@pytest.mark.django_db
def test_a_decision_needs_a_reason(world, alert):
    with pytest.raises(DomainError, match="reason is required"):
        alert_dismiss(alert=alert, acting_user=world.supervisor, reason="")


@pytest.mark.django_db
def test_the_console_lists_alerts_in_scope_and_dismisses_with_a_reason(world, alert, client):
    from tests.conftest import sign_in

    far = alert_raise(
        rule="volume", severity=Alert.Severity.HIGH, subject=world.far_worker, evidence={}, raised_by=world.system
    )
    sign_in(client, world.supervisor)
    page = client.get("/admin/accounts/alert/")
    assert page.status_code == 200
    assert list(page.context["cl"].queryset) == [alert]
    done = client.post(
        "/admin/accounts/alert/",
        {"action": "dismiss_alert", "_selected_action": [alert.pk, far.pk], "apply": "1", "reason": "known visit"},
        follow=True,
    )
    assert "1 alert dismissed." in done.content.decode()
    alert.refresh_from_db()
    far.refresh_from_db()
    assert (alert.status, far.status) == ("dismissed", "open")


@pytest.mark.parametrize("count", [3, 2500])
def test_many_alerts_are_raised_in_two_statements_whatever_their_number(world, count):
    """The anomalies job raises every alert of a run at once: the alerts and their history, one INSERT each."""
    alerts = [
        {"rule": "out_of_scope", "severity": Alert.Severity.MEDIUM, "subject": world.worker, "evidence": {"n": n}}
        for n in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        raised = alert_raise_many(alerts, raised_by=world.system)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2 and len(raised) == count
    assert Alert.history.filter(history_change_reason="raised by rule out_of_scope").count() == count
