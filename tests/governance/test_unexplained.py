"""Unexplained look-ups for people: explained shares, the review queue, accepting one and raising an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from freezegun import freeze_time

from accounts.exceptions import DomainError, NotPermitted
from accounts.models import Alert
from governance.unexplained import explained_shares, explanation_accept, review_queue, unexplained_alert_raise
from records.models import AccessEvent, AccessExplanation
from tests.governance.test_explain import LOCAL, T0, appointment, look, people, run  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(hours=2)


@pytest.fixture
def day(world, people):  # noqa: F811
    """The worker opens one due record and three others; a colleague opens the due one; the job runs."""
    due, other = people
    appointment(due, world.facility, LOCAL)
    events = {
        "due": look(world.worker, due),
        "others": [look(world.worker, other, at=T0 + timedelta(minutes=m)) for m in (1, 2, 3)],
        "colleague": look(world.colleague, due),
        "far": look(world.far_worker, other),
    }
    run(NOW)
    late = look(world.worker, other, at=NOW + timedelta(minutes=1))  # after the job: not judged yet
    return {**events, "late": late}


def test_a_workers_share_counts_judged_look_ups_today_and_this_week(world, day, django_assert_num_queries):
    with freeze_time(NOW + timedelta(minutes=5)), django_assert_num_queries(2):
        shares = explained_shares([world.worker.pk, world.colleague.pk, world.supervisor.pk])
    mine = shares[world.worker.pk]
    assert (mine.day_looked, mine.day_explained, mine.week_looked, mine.week_explained) == (4, 1, 4, 1)
    assert (mine.day_percent, mine.week_percent, mine.week_unexplained) == (25, 25, 3)
    assert shares[world.colleague.pk].week_percent == 100
    assert shares[world.supervisor.pk].week_percent is None  # nothing looked up: no share, not 0 %
    with freeze_time(NOW + timedelta(days=1)):
        tomorrow = explained_shares([world.worker.pk])[world.worker.pk]
    assert (tomorrow.day_looked, tomorrow.week_looked) == (0, 4)


def test_the_queue_lists_the_jurisdictions_unexplained_look_ups_worst_worker_first(world, day):
    with freeze_time(NOW + timedelta(minutes=5)):
        queue = review_queue(acting_user=world.supervisor)
        far = review_queue(acting_user=world.far_supervisor)
    assert [line.event_id for line in queue] == [e.pk for e in reversed(day["others"])]
    assert {line.worker.pk for line in queue} == {world.worker.pk}
    assert all(line.worker_unexplained == 3 and line.worker_percent == 25 for line in queue)
    assert day["far"].pk not in [line.event_id for line in queue]  # another district's worker
    assert [line.event_id for line in far] == [day["far"].pk]  # the other district sees only its own
    assert review_queue(acting_user=world.worker) == []  # a worker reviews nobody


def test_the_queue_is_a_fixed_number_of_queries(world, day, django_assert_num_queries):
    with freeze_time(NOW + timedelta(minutes=5)), django_assert_num_queries(3):
        review_queue(acting_user=world.supervisor)


def test_accepting_a_look_up_explains_it_and_names_the_supervisor(world, day):
    event = day["others"][0]
    with pytest.raises(DomainError):
        explanation_accept(event_id=event.pk, acting_user=world.supervisor, reason=" ")
    explanation = explanation_accept(
        event_id=event.pk, acting_user=world.supervisor, reason="she called about her son's certificate"
    )
    assert (explanation.kind, explanation.reviewed_by, explanation.actor) == ("review", world.supervisor, world.worker)
    with freeze_time(NOW + timedelta(minutes=5)):
        assert event.pk not in [line.event_id for line in review_queue(acting_user=world.supervisor)]
        assert explained_shares([world.worker.pk])[world.worker.pk].week_explained == 2
    with pytest.raises(DomainError, match="already explained"):
        explanation_accept(event_id=event.pk, acting_user=world.supervisor, reason="twice")


def test_only_the_workers_governor_accepts_and_never_for_oneself(world, day):
    event = day["others"][0]
    for who in (world.worker, world.colleague):
        with pytest.raises(NotPermitted):
            explanation_accept(event_id=event.pk, acting_user=who, reason="it was fine")
    with pytest.raises(AccessEvent.DoesNotExist):
        explanation_accept(event_id=10**9, acting_user=world.supervisor, reason="no such look-up")
    assert not AccessExplanation.objects.filter(kind="review").exists()


def test_a_supervisor_raises_an_alert_from_the_queue(world, day, client):
    from django.urls import reverse

    from tests.conftest import sign_in

    with freeze_time(NOW + timedelta(minutes=5)):
        alert = unexplained_alert_raise(worker=world.worker, acting_user=world.supervisor, reason="not her due list")
    assert (alert.rule, alert.severity, alert.evidence["count"]) == ("unexplained_views", Alert.Severity.MEDIUM, 3)
    assert alert.history.first().history_user == world.supervisor
    with pytest.raises(NotPermitted):
        unexplained_alert_raise(worker=world.worker, acting_user=world.worker, reason="myself")
    sign_in(client, world.supervisor)
    page = client.get(reverse("admin:accounts_alert_change", args=[alert.pk]))
    assert page.status_code == 200 and "Raised from the review queue: 3 records opened" in page.content.decode()


def test_the_share_is_said_on_the_account_page_the_review_and_the_dashboard(world, day, client):
    from tests.conftest import sign_in

    sign_in(client, world.supervisor)
    with freeze_time(NOW + timedelta(minutes=5)):
        hub = client.get(f"/admin/accounts/user/{world.worker.pk}/change/").content.decode()
        review = client.get(f"/admin/accounts/user/{world.worker.pk}/review/").content.decode()
    said = "Explained: 25% of 4 records opened in seven days; today 25% of 4."
    assert said in hub and said in review
    with freeze_time(NOW + timedelta(minutes=5)):
        quiet = client.get(f"/admin/accounts/user/{world.district_worker.pk}/change/").content.decode()
    assert "No record opened in the last seven days has been checked yet." in quiet
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    with freeze_time(NOW + timedelta(minutes=5)):
        hindi = client.get(f"/admin/accounts/user/{world.worker.pk}/change/").content.decode()
    assert "कारण सहित: सात दिनों में खोले गए 4 रिकॉर्ड में से 25%; आज 4 में से 25%।" in hindi


def test_the_dashboards_busiest_readers_carry_their_share(world, day, client):
    from governance.jobs import job_run
    from tests.conftest import sign_in

    at = NOW + timedelta(minutes=5)
    with freeze_time(at):
        job_run("anomalies", now=at)  # the tallies of the week's readers; it judges the late look-up too
        sign_in(client, world.supervisor)
        page = client.get("/admin/").content.decode()
    assert 'asha</a>: 5 <span class="share">(20% explained)</span>' in page
