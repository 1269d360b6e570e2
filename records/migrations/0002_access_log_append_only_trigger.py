"""The database itself refuses UPDATE and DELETE on the access log (the ORM refuses too)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION records_accessevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'records_accessevent is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER records_accessevent_append_only
    BEFORE UPDATE OR DELETE ON records_accessevent
    FOR EACH ROW EXECUTE FUNCTION records_accessevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS records_accessevent_append_only ON records_accessevent;
DROP FUNCTION IF EXISTS records_accessevent_append_only();
"""


def _run(sql):
    def run(apps, schema_editor):
        schema_editor.execute(sql, params=None)  # as one string: the function body holds semicolons

    return run


class Migration(migrations.Migration):
    dependencies = [("records", "0001_beneficiaries_and_access_log")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
