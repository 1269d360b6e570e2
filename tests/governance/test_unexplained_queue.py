"""The console's review queue: the jurisdiction's unexplained look-ups, accepted or alerted on with a reason
and, past the step-up window, a fresh code on one page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import Alert
from records.models import AccessExplanation
from tests.governance.test_account_hub import code_of, console_for
from tests.governance.test_explain import appointment, look, people, run  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
QUEUE = "/admin/records/accessexplanation/"


@pytest.fixture
def today(world, people):  # noqa: F811
    due, other = people
    now = timezone.now() - timedelta(minutes=30)
    appointment(due, world.facility, timezone.localdate(now))
    events = {"due": look(world.worker, due, at=now), "other": look(world.worker, other, at=now)}
    events["far"] = look(world.far_worker, other, at=now)
    run(now + timedelta(minutes=1))
    return events


def accept_url(event) -> str:
    return f"{QUEUE}{event.pk}/accept/"


def test_the_queue_lists_the_jurisdictions_unexplained_look_ups(world, today):
    page = console_for(world.supervisor).get(QUEUE)
    html = page.content.decode()
    assert page.status_code == 200 and accept_url(today["other"]) in html
    assert accept_url(today["due"]) not in html and accept_url(today["far"]) not in html
    assert "1 unexplained this week; 50% explained" in html
    assert console_for(world.worker).get(QUEUE).status_code in (302, 403)  # a worker has no console queue


def test_accepting_asks_a_reason_and_a_code_on_one_page(world, today):
    console = console_for(world.supervisor, minutes_ago=10)
    url = accept_url(today["other"])
    form = console.get(url).content.decode()
    assert 'name="reason"' in form and 'name="token"' in form
    missing = console.post(url, {"method": "totp", "token": code_of(world.supervisor)})
    assert missing.status_code == 200 and not AccessExplanation.objects.filter(kind="review").exists()
    with freeze_time(timezone.now() + timedelta(seconds=31)):
        done = console.post(
            url,
            {"reason": "her son's certificate, asked by phone", "method": "totp", "token": code_of(world.supervisor)},
        )
    assert done.status_code == 302 and done["Location"] == QUEUE
    explanation = AccessExplanation.objects.get(event=today["other"])
    assert (explanation.kind, explanation.reviewed_by) == ("review", world.supervisor)
    assert console.get(url).status_code == 404  # explained: out of the queue


def test_a_look_up_outside_the_queue_is_404(world, today):
    console = console_for(world.supervisor)
    for event in (today["far"], today["due"]):
        assert console.get(accept_url(event)).status_code == 404
        assert console.post(accept_url(event), {"reason": "not mine"}).status_code == 404
    assert console.get(f"{QUEUE}{world.far_worker.pk + 10**6}/accept/").status_code == 404
    assert console.get(f"{QUEUE}worker/{world.far_worker.pk}/alert/").status_code == 404
    for huge in ("9" * 19, "9" * 40):  # past PostgreSQL's bigint: a 404, never a 500
        assert console.get(f"{QUEUE}{huge}/accept/").status_code == 404
        assert console.get(f"{QUEUE}worker/{huge}/alert/").status_code == 404


def test_raising_an_alert_from_the_queue(world, today):
    console = console_for(world.supervisor)  # a code proven just now: only the reason is asked
    url = f"{QUEUE}worker/{world.worker.pk}/alert/"
    assert 'name="token"' not in console.get(url).content.decode()
    done = console.post(url, {"reason": "not on her due list"})
    assert done.status_code == 302
    alert = Alert.objects.get(rule="unexplained_views", subject=world.worker)
    assert alert.evidence["count"] == 1 and alert.evidence["reason"] == "not on her due list"


def test_the_queue_answers_no_query_string(world, today):
    console = console_for(world.supervisor)
    for query in ("?q=asha", "?o=1", "?event__exact=1", "?actor__username__startswith=a"):
        assert console.get(QUEUE + query).status_code == 400, query
