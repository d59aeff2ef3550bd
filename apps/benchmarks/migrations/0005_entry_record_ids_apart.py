"""Benchmark numbers keep the ids of the records they rest on apart from details (lists of entries defer them)."""
import functools

from django.db import migrations, models


KEYS = ("spectrum_ids", "cell_ids", "conductivity_ids", "dc_polarisation_ids")
SHOWN = 20


def move_record_ids(apps, schema_editor, *, model: str):
    """Whole id lists move from details to record_ids; details keeps the first 20 of each and a count."""
    Model = apps.get_model(*model.split("."))
    batch = []
    for row in Model.objects.only("pk", "details").iterator(chunk_size=200):
        details = row.details or {}
        if not any(isinstance(details.get(key), list) for key in KEYS):
            continue
        shown, whole = {}, {}
        for key, value in details.items():
            if key in KEYS and isinstance(value, list):
                whole[key] = value
                shown[key] = value[:SHOWN]
                if len(value) > SHOWN:
                    shown[f"{key}_not_listed"] = len(value) - SHOWN
            else:
                shown[key] = value
        row.details, row.record_ids = shown, whole
        batch.append(row)
        if len(batch) == 200:
            Model.objects.bulk_update(batch, ["details", "record_ids"])
            batch = []
    Model.objects.bulk_update(batch, ["details", "record_ids"])


def put_record_ids_back(apps, schema_editor, *, model: str):
    Model = apps.get_model(*model.split("."))
    not_listed = {f"{key}_not_listed" for key in KEYS}
    batch = []
    for row in Model.objects.exclude(record_ids={}).only("pk", "details", "record_ids").iterator(chunk_size=200):
        row.details = {**{k: v for k, v in row.details.items() if k not in not_listed}, **row.record_ids}
        batch.append(row)
    Model.objects.bulk_update(batch, ["details"], batch_size=200)


class Migration(migrations.Migration):

    dependencies = [
        ('benchmarks', '0004_comparison_acceptance'),
    ]

    operations = [
        migrations.AddField(
            model_name='benchmarkentry',
            name='record_ids',
            field=models.JSONField(blank=True, default=dict, help_text='Every record the value rests on: {spectrum_ids, cell_ids, conductivity_ids, dc_polarisation_ids}.'),
        ),
        migrations.AlterField(
            model_name='benchmarkentry',
            name='details',
            field=models.JSONField(blank=True, default=dict, help_text='How the value was computed; each id list holds its first 20 ids.'),
        ),
        migrations.RunPython(
            functools.partial(move_record_ids, model="benchmarks.BenchmarkEntry"),
            functools.partial(put_record_ids_back, model="benchmarks.BenchmarkEntry"),
        ),
    ]
