"""Give the governing roles the rights over devices and lockouts that arrive with the login issue."""

from django.db import migrations

from accounts.migration_helpers import grant, revoke

GROUPS = ["supervisor", "state_admin"]

ADDED = [
    "accounts.approve_device",
    "accounts.view_registereddevice",
    "accounts.view_loginhold",
]


def forwards(apps, schema_editor):
    grant(apps, groups=GROUPS, permissions=ADDED)


def backwards(apps, schema_editor):
    revoke(apps, groups=GROUPS, permissions=ADDED)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_login_devices_otp_outbox")]
    operations = [migrations.RunPython(forwards, backwards)]
