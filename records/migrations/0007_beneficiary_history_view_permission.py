"""Let the governing roles open the console's history of changes to records in their scope.

The console shows no record contents (names as initials, identity numbers and mobiles masked): reading
a record still goes through records/services.py, scoped, counted and logged.
"""

from django.db import migrations

from accounts.migration_helpers import grant, revoke

GROUPS = ["supervisor", "state_admin"]

ADDED = ["records.view_beneficiary"]


def forwards(apps, schema_editor):
    grant(apps, groups=GROUPS, permissions=ADDED)


def backwards(apps, schema_editor):
    revoke(apps, groups=GROUPS, permissions=ADDED)


class Migration(migrations.Migration):
    dependencies = [("records", "0006_view_tallies")]
    operations = [migrations.RunPython(forwards, backwards)]
