"""The `partitions` job daily at 02:30 Asia/Kolkata (django-celery-beat's database scheduler), editable in the console.

It makes the access log's partitions three months ahead, so a missed night or two changes nothing.
"""

from django.db import migrations

NAME, TASK = "Governance: partitions", "governance.partitions"


def forwards(apps, schema_editor):
    crontab, _ = apps.get_model("django_celery_beat", "CrontabSchedule").objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Kolkata"
    )
    apps.get_model("django_celery_beat", "PeriodicTask").objects.update_or_create(
        name=NAME, defaults={"task": TASK, "crontab": crontab, "enabled": True}
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("records", "0018_access_log_partitioned"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
