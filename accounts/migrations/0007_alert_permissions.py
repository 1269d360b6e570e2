"""Give the governing roles the right to confirm or dismiss alerts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = ["accounts.decide_alert", "accounts.view_alert"]


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = [
        Permission.objects.get(content_type__app_label=label, codename=codename)
        for label, codename in (dotted.split(".") for dotted in ADDED)
    ]
    for group in Group.objects.filter(name__in=["supervisor", "state_admin"]):
        group.permissions.add(*perms)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [dotted.split(".")[1] for dotted in ADDED]
    for group in Group.objects.filter(name__in=["supervisor", "state_admin"]):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_alerts")]
    operations = [migrations.RunPython(forwards, backwards)]
