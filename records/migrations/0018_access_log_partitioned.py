"""The access log partitioned by month on its event time (PostgreSQL declarative range partitions), in place.

Forwards: the table, its indexes and its id sequence are renamed; a partitioned table is made in its place with
the same columns, a partition for every month that holds rows and for the months the `partitions` job keeps
(records/partitions.py), and a default partition; the rows are copied with their ids, hashes and everything
else; the indexes, the foreign keys and the append-only trigger are made again; the id sequence goes on from
where it stood; the old table is dropped. Backwards makes the plain table again from the partitions.

A partitioned table's primary key and unique constraints must hold the partition key: the primary key is
(id, created_at), and ids stay unique because only the identity gives them (GENERATED ALWAYS: an insert
naming an id is refused); (actor, seq) is unique with created_at, and once per chain because each append
moves the chain head from the previous number (records/audit.py; verify_audit finds a repeated number). The
explanation's link to its event keeps no database constraint (none can point at id alone): explanations are
written from the events they explain, and the `partitions` job deletes them with their month.
"""

from django.db import migrations, models
from django.utils import timezone

from records.partitions import default_create_sql, month_of, months_kept, partition_create_sql

TABLE = "records_accessevent"
INDEXES = [  # made on the new table, as the model names them
    ("records_accessevent_created_at_ea73d03f", "created_at"),
    ("access_event_actor_time", "actor_id, created_at"),
    ("access_event_record_time", "beneficiary_id, created_at"),
]
TRIGGER = (
    f"CREATE TRIGGER records_accessevent_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION records_accessevent_append_only()"
)


def _set_aside(cursor, name: str) -> list[tuple[str, str]]:
    """Rename the table to `name`, with its indexes and id sequence, so that the table made in its place can
    take their names; return its foreign keys (name, definition)."""
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [TABLE],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", [TABLE])
    for number, (index,) in enumerate(cursor.fetchall()):
        cursor.execute(f"ALTER INDEX {index} RENAME TO {name}_{number}")
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    (sequence,) = cursor.fetchone()
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {name}")
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {name}_id_seq")
    return foreign_keys


def _make(cursor, source: str, *, partitioned: bool) -> str:
    """Make the table anew from `source`'s columns, its id sequence at `source`'s; return the column list."""
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {source} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
        + (" PARTITION BY RANGE (created_at)" if partitioned else "")
    )
    identity = "ALWAYS" if partitioned else "BY DEFAULT"  # BY DEFAULT: as Django made it
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED {identity} AS IDENTITY")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), last_value, is_called) FROM {source}_id_seq",  # noqa: S608
        [TABLE],
    )
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        [source],
    )
    return ", ".join(name for (name,) in cursor.fetchall())


def _finish(cursor, source: str, columns: str, foreign_keys, *, key: str, seq_unique: str) -> None:
    """Copy the rows over, make the keys, indexes, foreign keys and trigger, and drop `source`."""
    cursor.execute(
        f"INSERT INTO {TABLE} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {source} ORDER BY id"  # noqa: S608
    )
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({key})")
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT access_event_seq_per_actor UNIQUE ({seq_unique})")
    for name, indexed in INDEXES:
        cursor.execute(f"CREATE INDEX {name} ON {TABLE} ({indexed})")
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
    cursor.execute(TRIGGER)
    cursor.execute(f"DROP TABLE {source}")
    cursor.execute(f"ANALYZE {TABLE}")


def partition(apps, schema_editor):
    source = f"{TABLE}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:
        foreign_keys = _set_aside(cursor, source)
        columns = _make(cursor, source, partitioned=True)
        cursor.execute(f"SELECT DISTINCT date_trunc('month', created_at, 'UTC') FROM {source}")  # noqa: S608
        months = {month_of(month) for (month,) in cursor.fetchall()} | set(months_kept(timezone.now()))
        for month in sorted(months):
            cursor.execute(partition_create_sql(month))
        cursor.execute(default_create_sql())
        _finish(
            cursor, source, columns, foreign_keys, key="id, created_at", seq_unique="actor_id, actor_seq, created_at"
        )


def unpartition(apps, schema_editor):
    source = f"{TABLE}_partitioned"
    with schema_editor.connection.cursor() as cursor:
        foreign_keys = _set_aside(cursor, source)
        columns = _make(cursor, source, partitioned=False)
        _finish(cursor, source, columns, foreign_keys, key="id", seq_unique="actor_id, actor_seq")


class Migration(migrations.Migration):
    dependencies = [("records", "0017_transparency_requests")]

    operations = [
        migrations.AlterField(
            model_name="accessexplanation",
            name="event",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=models.deletion.PROTECT,
                primary_key=True,
                related_name="explanation",
                serialize=False,
                to="records.accessevent",
                verbose_name="look-up",
            ),
        ),
        migrations.RunPython(partition, unpartition),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="accessevent", name="access_event_seq_per_actor"),
                migrations.AddConstraint(
                    model_name="accessevent",
                    constraint=models.UniqueConstraint(
                        fields=("actor", "actor_seq", "created_at"), name="access_event_seq_per_actor"
                    ),
                ),
            ]
        ),
    ]
