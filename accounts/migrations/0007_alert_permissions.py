"""Give the governing roles the right to confirm or dismiss alerts."""

from django.db import migrations

from accounts.migration_helpers import grant, revoke

GROUPS = ["supervisor", "state_admin"]

ADDED = ["accounts.decide_alert", "accounts.view_alert"]


def forwards(apps, schema_editor):
    grant(apps, groups=GROUPS, permissions=ADDED)


def backwards(apps, schema_editor):
    revoke(apps, groups=GROUPS, permissions=ADDED)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_alerts")]
    operations = [migrations.RunPython(forwards, backwards)]
