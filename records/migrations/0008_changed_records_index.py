"""A partial index on the history of records: the versions written by a change after registration.

The console lists the records of a scope that were changed (records.services.record_changes_for_viewer).
A state holds about 10 million records and as many creation versions; the changes are few, so the list
starts from this small index instead of testing every record of the scope. Django cannot declare an index
on simple_history's generated model, hence SQL.
"""

from django.db import migrations

INDEX = "records_historicalbeneficiary_changed"


class Migration(migrations.Migration):
    dependencies = [("records", "0007_beneficiary_history_view_permission")]
    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {INDEX} ON records_historicalbeneficiary (id, history_date) WHERE history_type = '~'",
            f"DROP INDEX {INDEX}",
        )
    ]
