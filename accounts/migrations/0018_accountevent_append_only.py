"""The database itself refuses UPDATE and DELETE on account events, as it does on the access log (the ORM
refuses too: AccountEvent.save and .delete). TRUNCATE is left to the owner (test flushes, a restore)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_accountevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'accounts_accountevent is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_accountevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_accountevent
    FOR EACH ROW EXECUTE FUNCTION accounts_accountevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS accounts_accountevent_append_only ON accounts_accountevent;
DROP FUNCTION IF EXISTS accounts_accountevent_append_only();
"""


def _run(sql):
    def run(apps, schema_editor):
        schema_editor.execute(sql, params=None)  # as one string: the function body holds semicolons

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0017_usersession_passkey")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
