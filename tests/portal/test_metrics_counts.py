"""Each metric of /metrics moves with the real action it counts: a login, a lock, a record look-up, an alert,
a governance job run, the outbox, the broker; request latency is labelled by route, never by path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import get_resolver
from django.utils import timezone

from accounts.models import Notification
from governance import jobs
from portal.celery import app as celery_app
from tests.accounts.test_login_flow import (
    PASSWORD,
    approve_pending,
    full_login,
    later,
    post_password,
)
from tests.accounts.test_login_flow import phone as phone  # the fixture, reused
from tests.conftest import sign_in
from tests.portal.metrics_scrape import grown, label_values, scrape, scraper, value
from tests.records.conftest import access_log_broken
from tests.records.conftest import records as records  # the fixture, reused

__all__ = ["scraper"]  # a fixture

pytestmark = pytest.mark.django_db

LOGINS, LOCKOUTS = "prahari_logins_total", "prahari_lockouts_total"
LOOKUPS, ALERTS = "prahari_record_lookups_total", "prahari_alerts_raised_total"
RUNS, DURATION = "prahari_governance_job_runs_total", "prahari_governance_job_duration_seconds_count"
LATENCY = "prahari_http_request_duration_seconds_count"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_a_real_login_counts_each_outcome_once(world, client, phone, scraper, django_capture_on_commit_callbacks):
    before = scrape(scraper)
    with django_capture_on_commit_callbacks(execute=True):
        post_password(client, world.worker.username, "not the password at all")
        post_password(client, "nobody-here", PASSWORD)
        full_login(client, world.worker, phone)  # a new browser: it waits for its supervisor
    approve_pending(world.worker, world.supervisor)
    with later(31), django_capture_on_commit_callbacks(execute=True):
        assert full_login(client, world.worker, phone).status_code == 302
    after = scrape(scraper)

    assert grown(after, before, LOGINS, outcome="wrong_password") == 1
    assert grown(after, before, LOGINS, outcome="unknown_user") == 1
    assert grown(after, before, LOGINS, outcome="device_pending") == 1
    assert grown(after, before, LOGINS, outcome="succeeded") == 1
    assert grown(after, before, LOGINS, outcome="wrong_code") == 0


def test_a_sign_in_is_counted_only_once_its_transaction_commits(
    world, client, phone, scraper, django_capture_on_commit_callbacks
):
    """The test's own transaction never commits: without the capture of its commit callbacks nothing moves."""
    before = scrape(scraper)
    post_password(client, world.worker.username, "not the password at all")

    assert grown(scrape(scraper), before, LOGINS, outcome="wrong_password") == 0


def test_a_lock_is_counted_once(world, client, scraper, django_capture_on_commit_callbacks, settings):
    before = scrape(scraper)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(settings.AXES_FAILURE_LIMIT + 2):  # the failures past the limit are the same lock
            post_password(client, world.worker.username, "not the password at all")
    after = scrape(scraper)

    assert grown(after, before, LOCKOUTS) == 1
    refused = grown(after, before, LOGINS, outcome="wrong_password") + grown(after, before, LOGINS, outcome="locked")
    assert refused == settings.AXES_FAILURE_LIMIT + 2  # each failure counted once, under one outcome
    assert grown(after, before, LOGINS, outcome="locked") >= 2


def test_record_look_ups_are_counted_by_action_and_outcome(
    world, client, records, scraper, django_capture_on_commit_callbacks
):
    sign_in(client, world.worker)
    before = scrape(scraper)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/records/{records.own.reference_id}/?purpose=due_dose").status_code == 200
        client.get(f"/records/{records.far.reference_id}/?purpose=due_dose")
        client.get("/records/99999999999999/?purpose=due_dose")
        client.post("/records/", {"purpose": "due_dose", "reference_id": records.own.reference_id})
    after = scrape(scraper)

    assert grown(after, before, LOOKUPS, action="view", outcome="allowed") == 1
    assert grown(after, before, LOOKUPS, action="view", outcome="out_of_scope") == 1
    assert grown(after, before, LOOKUPS, action="view", outcome="not_found") == 1
    assert grown(after, before, LOOKUPS, action="search", outcome="allowed") == 1


def test_a_look_up_refused_because_the_log_failed_is_counted(world, client, records, scraper):
    sign_in(client, world.worker)
    before = scrape(scraper)
    with access_log_broken():
        assert client.get(f"/records/{records.own.reference_id}/?purpose=due_dose").status_code == 503

    assert grown(scrape(scraper), before, LOOKUPS, action="view", outcome="log_unavailable") == 1


def test_a_canary_counts_its_look_up_and_its_alert(world, client, records, scraper, django_capture_on_commit_callbacks):
    sign_in(client, world.worker)
    before = scrape(scraper)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/records/{records.canary.reference_id}/?purpose=due_dose")
    after = scrape(scraper)

    assert grown(after, before, LOOKUPS, action="view", outcome="canary") == 1
    assert grown(after, before, ALERTS, rule="canary", severity="critical") == 1


def test_governance_job_runs_are_counted_and_timed_by_outcome(scraper, monkeypatch, world):
    before = scrape(scraper)
    call_command("governance", "invitations")
    call_command("governance", "invitations", "--dry-run")

    def broken(**kwargs):
        raise RuntimeError("the job failed")

    monkeypatch.setitem(jobs.JOBS, "invitations", broken)
    with pytest.raises(RuntimeError):
        jobs.job_run("invitations")
    after = scrape(scraper)

    for outcome in ("succeeded", "dry_run", "failed"):
        assert grown(after, before, RUNS, job="invitations", outcome=outcome) == 1
        assert grown(after, before, DURATION, job="invitations", outcome=outcome) == 1
    assert grown(after, before, RUNS, job="dormancy", outcome="succeeded") == 0
    last = value(after, "prahari_governance_job_last_success_timestamp_seconds", job="invitations")
    assert last is not None and last >= timezone.now().timestamp() - 3600


def test_the_outbox_backlog_is_read_at_the_scrape(world, scraper):
    def notification(key: str, state: str) -> Notification:
        return Notification.objects.create(
            user=world.worker, channel="sms", to="+919876500001", kind="lockout", idempotency_key=key, state=state
        )

    pending = Notification.objects.filter(state=Notification.State.PENDING)
    base = pending.count()
    notification("a", Notification.State.PENDING)
    old = notification("b", Notification.State.PENDING)
    notification("c", Notification.State.SENT)
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    samples = scrape(scraper)

    assert value(samples, "prahari_outbox_pending") == base + 2 == pending.count()
    assert value(samples, "prahari_outbox_oldest_pending_age_seconds") >= 2 * 3600


def test_database_and_broker_reachability_are_read_at_the_scrape(scraper, monkeypatch):
    samples = scrape(scraper)
    assert value(samples, "prahari_database_up") == 1
    assert value(samples, "prahari_broker_up") == 1

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", CLOSED_PORT_BROKER)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", CLOSED_PORT_BROKER)
    assert value(scrape(scraper), "prahari_broker_up") == 0


def url_names(resolver=None, namespace="") -> set[str]:
    """Every route of the URLconf by its name with its namespaces ("records:record"), or for a route without a
    name by its view's dotted path, as Django's resolver names a match: a fixed set, never a path."""
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if hasattr(pattern, "url_patterns"):
            names |= url_names(pattern, namespace + (f"{pattern.namespace}:" if pattern.namespace else ""))
        else:
            names.add(namespace + (pattern.name or view_path(pattern.callback)))
    return names


def view_path(view) -> str:
    """A view's dotted path as Django's ResolverMatch gives it (`view_name` of a route without a name)."""
    view = getattr(view, "view_class", view)
    if not hasattr(view, "__name__"):
        return f"{view.__class__.__module__}.{view.__class__.__name__}"
    return f"{view.__module__}.{view.__name__}"


def test_request_latency_is_labelled_by_route_never_by_path(world, client, scraper):
    scrape(scraper)
    before = scrape(scraper)
    client.get("/no/such/page/98765432109876/")
    middle = scrape(scraper)
    client.get("/another/unknown/page/?token=abcdef")
    client.generic("BREW", "/no/such/pot/")
    sign_in(client, world.worker)
    client.get("/records/12345678901234/?purpose=due_dose")
    after = scrape(scraper)

    routes = label_values(after, LATENCY, "route")
    assert label_values(middle, LATENCY, "route") - label_values(before, LATENCY, "route") <= {"unmatched"}
    assert routes - label_values(middle, LATENCY, "route") <= {"records:record"}  # a second unknown path: no new label
    assert grown(after, middle, LATENCY, route="unmatched", method="GET") == 1
    assert grown(after, middle, LATENCY, route="unmatched", method="other") == 1
    assert grown(after, middle, LATENCY, route="records:record", method="GET") == 1
    assert routes <= url_names() | {"unmatched"}, routes - url_names()  # names of the URLconf, never a path
    assert label_values(after, LATENCY, "method") <= {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "other",
    }
