# The fit's protocol_id index is redundant: fit_protocol_status (protocol_id, status) leads with the same column.
# Only the index is dropped (Django's AlterField would also drop and re-validate the foreign key on every row).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analysis', '0009_fit_statistics_recomputed_not_stored'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='fitresult',
                    name='protocol',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='fits', to='analysis.fitprotocol'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "analysis_fitresult_protocol_id_7e242f1a"',
                    reverse_sql='CREATE INDEX "analysis_fitresult_protocol_id_7e242f1a" ON "analysis_fitresult" ("protocol_id")',
                ),
            ],
        ),
    ]
