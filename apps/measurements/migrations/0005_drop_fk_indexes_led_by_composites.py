# The spectrum's cell_id index is redundant: spectrum_cell_position (cell_id, index_in_file, id) and
# spectrum_cell_cycle_time (cell_id, …) lead with the same column. Only the index is dropped (Django's AlterField
# would also drop and re-validate the foreign key on every row).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_cell_lead_resistance'),
        ('measurements', '0004_spectrum_cell_cycle_time_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='impedancespectrum',
                    name='cell',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='spectra', to='catalog.cell'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "measurements_impedancespectrum_cell_id_20a2d5e7"',
                    reverse_sql='CREATE INDEX "measurements_impedancespectrum_cell_id_20a2d5e7" ON "measurements_impedancespectrum" ("cell_id")',
                ),
            ],
        ),
    ]
