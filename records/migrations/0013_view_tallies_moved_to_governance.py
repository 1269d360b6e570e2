"""The view tallies DistrictViewDay and ReaderViewWeek now live in governance (governance 0001, which runs
first and renames the tables): drop them from this app's state only, so the rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("records", "0012_checkpoint_schedule")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="DistrictViewDay"),
                migrations.DeleteModel(name="ReaderViewWeek"),
            ]
        ),
    ]
