"""Beat schedules of the governance jobs (django-celery-beat's database scheduler), editable in the console.

Dormancy and re-verification daily, invitations hourly, retention nightly (times in Asia/Kolkata).
The anomalies job adds its own schedule when it lands.
"""

from django.db import migrations

INTERVALS = [
    # (name, task, every, period)
    ("Governance: expire invitations", "governance.invitations", 1, "hours"),
]
CRONTABS = [
    # (name, task, minute, hour)
    ("Governance: dormancy", "governance.dormancy", "30", "1"),
    ("Governance: re-verification", "governance.reverification", "45", "1"),
    ("Governance: retention", "governance.retention", "15", "3"),
]


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in INTERVALS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})
    for name, task, minute, hour in CRONTABS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Kolkata"
        )
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "crontab": crontab, "enabled": True})


def backwards(apps, schema_editor):
    names = [s[0] for s in INTERVALS + CRONTABS]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_review_revoked_cause"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
