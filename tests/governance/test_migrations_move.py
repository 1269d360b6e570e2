"""AccessReview and the view tallies moved into governance (governance 0001, accounts 0016, records 0013): on a
database that held them under accounts and records, the rows stay, their content types say governance, and
the groups that held the right to view access reviews still hold it."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import User
from governance.models import AccessReview, DistrictViewDay, ReaderViewWeek

pytestmark = pytest.mark.django_db(transaction=True)

# The newest migrations before the move; governance had none.
BEFORE = [("accounts", "0015_fewer_write_indexes"), ("records", "0012_checkpoint_schedule")]
OLD_TABLES = {"accounts_accessreview", "records_districtviewday", "records_readerviewweek"}
NEW_TABLES = {"governance_accessreview", "governance_districtviewday", "governance_readerviewweek"}


def migrate_back():
    """Migrate to the state before the move; return that state's models."""
    MigrationExecutor(connection).migrate([*BEFORE, ("governance", None)])
    ContentType.objects.clear_cache()
    return MigrationExecutor(connection).loader.project_state(BEFORE, at_end=True).apps


def migrate_forward() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


@pytest.fixture
def old_apps(world):
    """The models before the move; whatever the test does, the database ends migrated to the newest state."""
    try:
        yield migrate_back()
    finally:
        migrate_forward()


def tables() -> set[str]:
    return set(connection.introspection.table_names()) & (OLD_TABLES | NEW_TABLES)


def old_rows(apps, world) -> dict:
    """One row of each moved model in its old table, and a group holding the old `accounts.view_accessreview`."""
    review = apps.get_model("accounts", "AccessReview").objects.create(
        user_id=world.worker.pk,
        reviewer_id=world.supervisor.pk,
        decision="attest",
        reason="still works here",
        period_start=world.worker.date_joined,
        period_end=timezone.now(),
        usage={"record_views": 12},
    )
    day = apps.get_model("records", "DistrictViewDay").objects.create(
        district_id=world.district.pk, day=date(2026, 11, 30), role="worker", views=7
    )
    week = apps.get_model("records", "ReaderViewWeek").objects.create(
        district_id=world.district.pk, week=date(2026, 11, 30), actor_id=world.worker.pk, role="worker", views=7
    )
    view = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="accounts", content_type__model="accessreview", codename="view_accessreview"
    )
    auditors = apps.get_model("auth", "Group").objects.create(name="auditors")
    auditors.permissions.add(view)
    return {"review": review.pk, "day": day.pk, "week": week.pk, "view": view.pk}


def test_the_rows_types_and_rights_stay_across_the_move(old_apps, world):
    assert tables() == OLD_TABLES
    old_type = ContentType.objects.get(app_label="accounts", model="accessreview")
    before = old_rows(old_apps, world)

    migrate_forward()

    assert tables() == NEW_TABLES
    review = AccessReview.objects.get(pk=before["review"])
    assert (review.user, review.reviewer, review.decision, review.usage) == (
        world.worker,
        world.supervisor,
        "attest",
        {"record_views": 12},
    )
    day = DistrictViewDay.objects.get(pk=before["day"])
    assert (day.district, day.day, day.role, day.views) == (world.district, date(2026, 11, 30), "worker", 7)
    week = ReaderViewWeek.objects.get(pk=before["week"])
    assert (week.actor, week.district, week.views) == (world.worker, world.district, 7)
    # The ids go on from the moved rows (the identity column came with its table).
    later = AccessReview.objects.create(
        user=world.worker,
        reviewer=world.supervisor,
        decision="revoke",
        reason="left",
        period_start=review.period_end,
        period_end=timezone.now(),
    )
    assert later.pk > review.pk

    review_type = ContentType.objects.get_for_model(AccessReview)
    assert (review_type.pk, review_type.app_label) == (old_type.pk, "governance")
    assert {ct.app_label for ct in ContentType.objects.get_for_models(DistrictViewDay, ReaderViewWeek).values()} == {
        "governance"
    }
    moved = ["accessreview", "districtviewday", "readerviewweek"]
    assert not ContentType.objects.filter(app_label__in=["accounts", "records"], model__in=moved).exists()
    view = Permission.objects.get(content_type__app_label="governance", codename="view_accessreview")
    assert view.pk == before["view"]
    for name in ("auditors", "supervisor", "state_admin"):
        assert Group.objects.get(name=name).permissions.filter(pk=view.pk).exists(), name
    world.worker.groups.add(Group.objects.get(name="auditors"))
    assert User.objects.get(pk=world.worker.pk).has_perm("governance.view_accessreview")


def test_a_governance_type_made_meanwhile_is_folded_into_the_moved_one(old_apps, world):
    """Code that asked for the new models' content type before the move ran (a deploy ahead of its migrations)
    left a second, governance-labelled type: the move keeps the old one, with the grants of both."""
    before = old_rows(old_apps, world)
    OldContentType = old_apps.get_model("contenttypes", "ContentType")
    OldPermission = old_apps.get_model("auth", "Permission")
    early = OldContentType.objects.create(app_label="governance", model="accessreview")
    early_view = OldPermission.objects.create(content_type=early, codename="view_accessreview", name="Can view")
    early_extra = OldPermission.objects.create(content_type=early, codename="export_accessreview", name="Can export")
    late = old_apps.get_model("auth", "Group").objects.create(name="late")
    late.permissions.add(early_view, early_extra)

    migrate_forward()

    (review_type,) = ContentType.objects.filter(model="accessreview")
    assert review_type.pk != early.pk and review_type.app_label == "governance"
    assert not Permission.objects.filter(pk=early_view.pk).exists()
    view = Permission.objects.get(content_type=review_type, codename="view_accessreview")
    assert view.pk == before["view"]
    assert set(Group.objects.get(name="late").permissions.values_list("content_type", "codename")) == {
        (review_type.pk, "view_accessreview"),
        (review_type.pk, "export_accessreview"),
    }
    assert Group.objects.get(name="auditors").permissions.filter(pk=view.pk).exists()
