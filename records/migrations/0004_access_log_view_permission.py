"""Let the governing roles read the access log of the accounts they govern (the console scopes the rows)."""

from django.db import migrations

from accounts.migration_helpers import grant, revoke

GROUPS = ["supervisor", "state_admin"]

ADDED = ["records.view_accessevent"]


def forwards(apps, schema_editor):
    grant(apps, groups=GROUPS, permissions=ADDED)


def backwards(apps, schema_editor):
    revoke(apps, groups=GROUPS, permissions=ADDED)


class Migration(migrations.Migration):
    dependencies = [("records", "0003_daily_counts_on_chain_head"), ("accounts", "0007_alert_permissions")]
    operations = [migrations.RunPython(forwards, backwards)]
