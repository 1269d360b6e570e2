"""The snapshot sees a change of any row, and leaves out only what it is told to."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.fuzz.harness import SESSIONS, changed, snapshot, tables

pytestmark = pytest.mark.django_db


def test_a_changed_row_shows_in_its_table_and_nowhere_else(world):
    before = snapshot(SESSIONS)
    User.objects.filter(pk=world.worker.pk).update(first_name="Asha ")  # one trailing space
    assert changed(before, snapshot(SESSIONS)) == ["accounts_user"]


def test_a_partitioned_table_is_read_through_its_parent_and_an_excluded_one_not_at_all(world):
    names = tables(SESSIONS)
    assert "records_accessevent" in names and not any(name.startswith("records_accessevent_p") for name in names)
    assert not SESSIONS & set(names)
