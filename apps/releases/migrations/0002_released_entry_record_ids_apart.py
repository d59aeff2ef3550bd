"""Benchmark numbers keep the ids of the records they rest on apart from details (lists of entries defer them)."""
import functools
import importlib

from django.db import migrations, models


# The same move as the live entries' (one definition of how details and record ids split).
_live = importlib.import_module("apps.benchmarks.migrations.0005_entry_record_ids_apart")
move_record_ids, put_record_ids_back = _live.move_record_ids, _live.put_record_ids_back


class Migration(migrations.Migration):

    dependencies = [
        ('releases', '0001_initial'),
        ('benchmarks', '0005_entry_record_ids_apart'),
    ]

    operations = [
        migrations.AddField(
            model_name='releasedentry',
            name='record_ids',
            field=models.JSONField(blank=True, default=dict, help_text='Every record the value rests on: {spectrum_ids, cell_ids, conductivity_ids, dc_polarisation_ids}.'),
        ),
        migrations.AlterField(
            model_name='releasedentry',
            name='details',
            field=models.JSONField(blank=True, default=dict, help_text='How the value was computed; each id list holds its first 20 ids.'),
        ),
        migrations.RunPython(
            functools.partial(move_record_ids, model="releases.ReleasedEntry"),
            functools.partial(put_record_ids_back, model="releases.ReleasedEntry"),
        ),
    ]
