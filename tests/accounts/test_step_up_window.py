"""A step-up lasts 5 minutes and ends at exactly 5 minutes (SECURITY.md §Sessions: a fresh OTP *within* 5
minutes), whether it was proven by a step-up or by the login itself; a fresh login for security changes too.

Time is frozen and the stored stamps set, so the boundary is exact to the microsecond.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from freezegun import freeze_time

from accounts.login.session import AUTH_AT_KEY, SEEN_AT_KEY, STEP_UP_AT_KEY, fresh_login, step_up_is_fresh
from tests.conftest import sign_in
from tests.records.conftest import records  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
JUST = timedelta(microseconds=1)
FIVE = timedelta(minutes=5)
AGES = [(FIVE - JUST, True), (FIVE, False), (FIVE + JUST, False)]
AGE_IDS = ["5min-1us", "5min", "5min+1us"]


def _request(**ages: timedelta) -> SimpleNamespace:
    return SimpleNamespace(session={key: (NOW - age).isoformat() for key, age in ages.items()})


@pytest.mark.parametrize(("age", "fresh"), AGES, ids=AGE_IDS)
def test_a_step_up_expires_at_exactly_five_minutes(age, fresh):
    request = _request(**{AUTH_AT_KEY: timedelta(hours=1), STEP_UP_AT_KEY: age})  # signed in an hour ago
    with freeze_time(NOW):
        assert step_up_is_fresh(request) is fresh


@pytest.mark.parametrize(("age", "fresh"), AGES, ids=AGE_IDS)
def test_the_logins_own_code_counts_as_a_step_up_for_five_minutes(age, fresh):
    with freeze_time(NOW):
        assert step_up_is_fresh(_request(**{AUTH_AT_KEY: age})) is fresh


@pytest.mark.parametrize(("age", "fresh"), AGES, ids=AGE_IDS)
def test_a_fresh_login_ends_at_exactly_five_minutes(age, fresh, settings):
    settings.PRAHARI_FRESH_LOGIN_MINUTES = 5
    request = _request(**{AUTH_AT_KEY: age, STEP_UP_AT_KEY: timedelta(0)})  # a step-up is not a fresh login
    with freeze_time(NOW):
        assert fresh_login(request) is fresh


def test_no_stamp_or_a_garbled_one_is_never_fresh():
    with freeze_time(NOW):
        assert step_up_is_fresh(SimpleNamespace(session={})) is False
        assert step_up_is_fresh(SimpleNamespace(session={STEP_UP_AT_KEY: "yesterday"})) is False
        assert fresh_login(SimpleNamespace(session={AUTH_AT_KEY: "yesterday"})) is False


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "revealed"), [(FIVE - JUST, True), (FIVE, False)], ids=["5min-1us", "5min"])
def test_reveal_through_the_page_at_the_step_ups_last_moment(client, world, records, age, revealed):  # noqa: F811
    with freeze_time(NOW):
        sign_in(client, world.worker)
        session = client.session
        session[AUTH_AT_KEY] = (NOW - timedelta(minutes=10)).isoformat()
        session[SEEN_AT_KEY] = NOW.isoformat()
        session[STEP_UP_AT_KEY] = (NOW - age).isoformat()
        session.save()
        response = client.post(
            f"/records/{records.own.reference_id}/reveal/",
            {"purpose": "due_dose", "field": "id_number", "reason": "she asked for her card"},
        )
    assert response.status_code == (200 if revealed else 403)
    assert (b"123412345678" in response.content) is revealed
