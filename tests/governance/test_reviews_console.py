"""The console's access review screen, the re-verification filter, and access reviews read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AccountEvent, AccountEventType, Status, SuspensionCause, User
from governance.models import AccessReview
from governance.reviews import review_attest
from tests.conftest import sign_in


def review_url(user) -> str:
    return f"/admin/accounts/user/{user.pk}/review/"


@pytest.fixture
def console(world, client):
    sign_in(client, world.supervisor)
    return client


@pytest.mark.django_db
def test_the_account_page_links_to_its_review(world, console):
    page = console.get(f"/admin/accounts/user/{world.worker.pk}/change/")
    assert page.status_code == 200
    assert review_url(world.worker) in page.content.decode()


@pytest.mark.django_db
def test_the_review_screen_shows_the_periods_use_in_words_and_numbers(world, console):
    for _ in range(3):
        AccountEvent.objects.create(type=AccountEventType.LOGIN_SUCCEEDED, actor=world.worker, subject=world.worker)
    page = console.get(review_url(world.worker))
    assert page.status_code == 200
    assert page.context["usage"]["logins"] == 3
    html = page.content.decode()
    assert "Logins" in html and "Views between 22:00 and 06:00" in html
    assert "Attest: still needs this access" in html and "Revoke: suspend this account" in html


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["far_worker", "supervisor", "peer_supervisor", "state_admin"])
def test_accounts_outside_the_jurisdiction_are_not_found(world, console, target):
    assert console.get(review_url(getattr(world, target))).status_code == 404
    response = console.post(review_url(getattr(world, target)), {"decision": "attest", "reason": "fine"})
    assert response.status_code == 404
    assert not AccessReview.objects.exists()


@pytest.mark.django_db
def test_the_review_screen_needs_a_fresh_code(world, console):
    with freeze_time(timezone.now() + timedelta(minutes=6)):
        asked = console.get(review_url(world.worker))
        assert asked.status_code == 302
        assert asked["Location"].startswith("/accounts/step-up/?next=")
        posted = console.post(review_url(world.worker), {"decision": "attest", "reason": "still here"})
        assert posted.status_code == 302 and posted["Location"].startswith("/accounts/step-up/")
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is False
    assert not AccessReview.objects.exists()


@pytest.mark.django_db
def test_attest_through_the_page(world, console):
    done = console.post(review_url(world.worker), {"decision": "attest", "reason": "still at PHC Chinhat"})
    assert done.status_code == 302 and done["Location"] == f"/admin/accounts/user/{world.worker.pk}/change/"
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is True
    review = AccessReview.objects.get(user=world.worker)
    assert (review.reviewer, review.decision, review.reason) == (world.supervisor, "attest", "still at PHC Chinhat")
    assert AccountEvent.objects.get(type=AccountEventType.REVIEW_ATTESTED).ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_revoke_through_the_page(world, console):
    console.post(review_url(world.worker), {"decision": "revoke", "reason": "moved to another district"})
    world.worker.refresh_from_db()
    assert (world.worker.status, world.worker.suspension_cause) == (Status.SUSPENDED, SuspensionCause.REVIEW_REVOKED)


@pytest.mark.django_db
def test_a_decision_needs_a_reason(world, console):
    page = console.post(review_url(world.worker), {"decision": "attest", "reason": ""})
    assert page.status_code == 200 and "This field is required" in page.content.decode()
    world.worker.refresh_from_db()
    assert world.worker.reconfirm_pending is False
    assert not AccessReview.objects.exists()


@pytest.mark.django_db
def test_a_refused_decision_is_shown_not_raised(world, console):
    from accounts.services.lifecycle import user_deactivate

    user_deactivate(user=world.worker, acting_user=world.supervisor, reason="left")
    page = console.post(review_url(world.worker), {"decision": "attest", "reason": "still here"})
    assert page.status_code == 200
    assert "Only an active account can be attested" in page.content.decode()


@pytest.mark.django_db
def test_the_changelist_filters_due_soon_and_overdue(world, console):
    now = timezone.now()
    User.objects.filter(pk=world.worker.pk).update(review_due_at=now + timedelta(days=10))
    User.objects.filter(pk=world.colleague.pk).update(review_due_at=now - timedelta(days=1))
    User.objects.filter(pk=world.district_worker.pk).update(review_due_at=now + timedelta(days=40))
    soon = console.get("/admin/accounts/user/?reverification=soon")
    assert {u.username for u in soon.context["cl"].queryset} == {"asha"}
    overdue = console.get("/admin/accounts/user/?reverification=overdue")
    assert {u.username for u in overdue.context["cl"].queryset} == {"ravi"}


@pytest.mark.django_db
def test_access_reviews_are_read_only_and_scoped(world, client):
    review = review_attest(user=world.worker, acting_user=world.supervisor, reason="still here")
    other = review_attest(user=world.far_worker, acting_user=world.far_supervisor, reason="still there")
    sign_in(client, world.supervisor)
    listed = client.get("/admin/governance/accessreview/")
    assert listed.status_code == 200
    assert list(listed.context["cl"].queryset) == [review]
    assert client.get(f"/admin/governance/accessreview/{other.pk}/change/").status_code == 302  # not found → index
    assert client.get(f"/admin/governance/accessreview/{review.pk}/change/").status_code == 200
    assert client.post(f"/admin/governance/accessreview/{review.pk}/change/", {"reason": "edited"}).status_code == 403
    assert client.get("/admin/governance/accessreview/add/").status_code == 403
    review.refresh_from_db()
    assert review.reason == "still here"
