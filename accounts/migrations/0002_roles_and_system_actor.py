"""Create the role groups with their permissions, and the named system actor that jobs act as."""

from django.db import migrations

from accounts.migration_helpers import ensure_permissions

# Frozen here on purpose: a later change of a role's rights is a new migration, reviewed as such.
ROLE_PERMISSIONS = {
    "worker": [],
    "supervisor": [
        "accounts.view_user",
        "accounts.invite_user",
        "accounts.approve_user",
        "accounts.suspend_user",
        "accounts.reinstate_user",
        "accounts.deactivate_user",
        "accounts.attest_user",
        "accounts.unlock_user",
        "accounts.view_accountevent",
        "accounts.view_facility",
        "accounts.view_district",
    ],
    "state_admin": [
        "accounts.view_user",
        "accounts.invite_user",
        "accounts.approve_user",
        "accounts.suspend_user",
        "accounts.reinstate_user",
        "accounts.reinstate_flagged_user",
        "accounts.deactivate_user",
        "accounts.attest_user",
        "accounts.unlock_user",
        "accounts.view_accountevent",
        "accounts.view_facility",
        "accounts.view_district",
        "accounts.view_state",
    ],
}
SYSTEM_USERNAME = "prahari-system"


def forwards(apps, schema_editor):
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
    User = apps.get_model("accounts", "User")
    User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={
            "is_system": True,
            "role": "",
            "is_active": False,
            "status": "active",
            "first_name": "Prahari",
            "last_name": "system",
            "password": "!system-actor-cannot-log-in",
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
