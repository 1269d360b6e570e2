"""Beat schedules (django-celery-beat's database scheduler): outbox drain, expired sessions, axes logs.

Visible and editable in the console under Periodic tasks. The governance jobs add their own.
"""

from django.db import migrations

SCHEDULES = [
    # (name, task, every, period)
    ("Send notifications whose task never ran", "accounts.drain_notifications", 1, "minutes"),
    ("Delete expired sessions", "accounts.clear_expired_sessions", 1, "hours"),
    ("Prune django-axes logs", "accounts.prune_axes_logs", 1, "hours"),
]


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_device_and_lockout_permissions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
