"""The anomalies job every 10 minutes (django-celery-beat's database scheduler), editable in the console."""

from django.db import migrations

from accounts.migration_helpers import beat_schedule

forwards, backwards = beat_schedule("Governance: anomalies", "governance.anomalies", minutes=10)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0011_governance_schedules"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
