"""The checkpoints job every 10 minutes (django-celery-beat's database scheduler), editable in the console."""

from django.db import migrations

from accounts.migration_helpers import beat_schedule

forwards, backwards = beat_schedule("Governance: checkpoints", "governance.checkpoints", minutes=10)


class Migration(migrations.Migration):
    dependencies = [("records", "0011_chain_checkpoints"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
