"""Spectrum counts per cell and visibility class (`SpectrumCount`), kept by triggers whoever writes.

PostgreSQL: inserts and deletes append one signed row per class a statement touches (statement-level
triggers with transition tables, so a COPY of 20,000 spectra adds a few rows), a change of class appends -1
and +1; no shared row is locked, so concurrent uploads to one cell never wait on each other or deadlock;
`compact_spectrum_counts` folds the rows together now and then. SQLite (one writer at a time): row triggers
keep one row per class. Both start from a set-based count of the spectra already stored.
"""
from django.db import migrations, models

SPECTRA = "measurements_impedancespectrum"
COUNTS = "measurements_spectrumcount"
KEY = "cell_id, group_id, visibility, embargo_until, created_by_id"

BACKFILL = f"INSERT INTO {COUNTS} ({KEY}, n) SELECT {KEY}, COUNT(*) FROM {SPECTRA} GROUP BY {KEY}"

POSTGRESQL = [
    f"""CREATE FUNCTION spectrumcount_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {COUNTS} ({KEY}, n) SELECT {KEY}, COUNT(*) FROM new_rows GROUP BY {KEY};
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION spectrumcount_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {COUNTS} ({KEY}, n) SELECT {KEY}, -COUNT(*) FROM old_rows GROUP BY {KEY};
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION spectrumcount_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {COUNTS} ({KEY}, n) VALUES
            (OLD.cell_id, OLD.group_id, OLD.visibility, OLD.embargo_until, OLD.created_by_id, -1),
            (NEW.cell_id, NEW.group_id, NEW.visibility, NEW.embargo_until, NEW.created_by_id, 1);
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER spectrumcount_inserted AFTER INSERT ON {SPECTRA}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION spectrumcount_inserted()""",
    f"""CREATE TRIGGER spectrumcount_deleted AFTER DELETE ON {SPECTRA}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION spectrumcount_deleted()""",
    # Per row, and only when a row changes class: rewriting the arrays of a million spectra costs nothing here.
    f"""CREATE TRIGGER spectrumcount_updated AFTER UPDATE OF {KEY} ON {SPECTRA} FOR EACH ROW
        WHEN ((OLD.cell_id, OLD.group_id, OLD.visibility, OLD.embargo_until, OLD.created_by_id)
              IS DISTINCT FROM (NEW.cell_id, NEW.group_id, NEW.visibility, NEW.embargo_until, NEW.created_by_id))
        EXECUTE FUNCTION spectrumcount_updated()""",
]
POSTGRESQL_REVERSE = [
    f"DROP TRIGGER IF EXISTS spectrumcount_{event} ON {SPECTRA}" for event in ("inserted", "deleted", "updated")
] + [f"DROP FUNCTION IF EXISTS spectrumcount_{event}()" for event in ("inserted", "deleted", "updated")]


def _sqlite_add(row: str, sign: str) -> str:
    """Statements adding `sign`1 to the class of `row` (NEW or OLD), creating the class row first."""
    match = (
        f"cell_id = {row}.cell_id AND group_id = {row}.group_id AND visibility = {row}.visibility "
        f"AND embargo_until IS {row}.embargo_until AND created_by_id IS {row}.created_by_id"
    )
    return (
        f"INSERT INTO {COUNTS} ({KEY}, n) SELECT {row}.cell_id, {row}.group_id, {row}.visibility, "
        f"{row}.embargo_until, {row}.created_by_id, 0 WHERE NOT EXISTS (SELECT 1 FROM {COUNTS} WHERE {match}); "
        f"UPDATE {COUNTS} SET n = n {sign} 1 WHERE id = (SELECT id FROM {COUNTS} WHERE {match} LIMIT 1);"
    )


SQLITE = [
    f"CREATE TRIGGER spectrumcount_inserted AFTER INSERT ON {SPECTRA} BEGIN {_sqlite_add('NEW', '+')} END",
    f"CREATE TRIGGER spectrumcount_deleted AFTER DELETE ON {SPECTRA} BEGIN {_sqlite_add('OLD', '-')} END",
    f"""CREATE TRIGGER spectrumcount_updated AFTER UPDATE OF {KEY} ON {SPECTRA}
        BEGIN {_sqlite_add('OLD', '-')} {_sqlite_add('NEW', '+')} END""",
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS spectrumcount_{event}" for event in ("inserted", "deleted", "updated")]


def create_triggers(apps, schema_editor):
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in [*statements, BACKFILL]:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    statements = POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement)



class Migration(migrations.Migration):

    dependencies = [
        ('measurements', '0006_frequency_grids'),
    ]

    operations = [
        migrations.CreateModel(
            name='SpectrumCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cell_id', models.IntegerField()),
                ('group_id', models.IntegerField()),
                ('visibility', models.CharField(max_length=10)),
                ('embargo_until', models.DateField(null=True)),
                ('created_by_id', models.IntegerField(null=True)),
                ('n', models.IntegerField()),
            ],
            options={
                'indexes': [models.Index(fields=['cell_id'], name='spectrumcount_cell')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
