"""AccessReview now lives in governance (governance 0001, which runs first and renames the table): drop it
from this app's state only, so the rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0015_fewer_write_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AccessReview")]),
    ]
