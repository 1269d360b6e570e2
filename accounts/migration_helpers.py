"""Helpers for data migrations: role permissions and beat schedules (kept stable: migrations import them)."""

from django.contrib.auth.management import create_permissions


def ensure_permissions(apps) -> None:
    """Create the Permission rows of every app now (Django otherwise adds them only after migrate)."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _permissions(apps, dotted: list[str]):
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.get(content_type__app_label=label, codename=codename)
        for label, codename in (name.split(".") for name in dotted)
    ]


def grant(apps, *, groups: list[str], permissions: list[str]) -> None:
    """Add `permissions` ("app.codename") to each of the named groups."""
    ensure_permissions(apps)
    perms = _permissions(apps, permissions)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=groups):
        group.permissions.add(*perms)


def revoke(apps, *, groups: list[str], permissions: list[str]) -> None:
    perms = _permissions(apps, permissions)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=groups):
        group.permissions.remove(*perms)


def beat_schedule(name: str, task: str, *, minutes: int):
    """The (forwards, backwards) pair of a RunPython that schedules `task` every `minutes` in django-celery-beat's
    database scheduler, under `name` (editable in the console afterwards)."""

    def forwards(apps, schema_editor):
        interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
            every=minutes, period="minutes"
        )
        apps.get_model("django_celery_beat", "PeriodicTask").objects.update_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )

    def backwards(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()

    return forwards, backwards
