# Spectra share their frequency grids: each distinct frequency list (float64 bytes) becomes one FrequencyGrid row
# named by its SHA-256, and a spectrum's data keeps Z', Z'' only. Set-based on PostgreSQL (two statements over
# the table), batches in Python elsewhere (SQLite has no SHA-256 in SQL). Reversible.
import hashlib

import django.db.models.deletion
from django.db import migrations, models


SPECTRA = "measurements_impedancespectrum"
GRIDS = "measurements_frequencygrid"
# Rows still holding frequencies, Z', Z'' (3 n float64).
PACKED = "frequency_grid_id IS NULL AND length(data) = 24 * n_points"
GRID_OF = "encode(sha256(substring(data FROM 1 FOR 8 * n_points)), 'hex')"


def share_grids(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {GRIDS} (sha256, n_points, data) "
                f"SELECT g.sha256, s.n_points, substring(s.data FROM 1 FOR 8 * s.n_points) "
                f"FROM (SELECT {GRID_OF} AS sha256, min(id) AS first_id FROM {SPECTRA} WHERE {PACKED} GROUP BY 1) g "
                f"JOIN {SPECTRA} s ON s.id = g.first_id ON CONFLICT (sha256) DO NOTHING"
            )
            cursor.execute(
                f"UPDATE {SPECTRA} SET frequency_grid_id = {GRID_OF}, data = substring(data FROM 8 * n_points + 1) "
                f"WHERE {PACKED}"
            )
        return
    spectrum_model = apps.get_model("measurements", "ImpedanceSpectrum")
    grid_model = apps.get_model("measurements", "FrequencyGrid")
    known = set(grid_model.objects.values_list("sha256", flat=True))
    batch = []
    for spectrum in spectrum_model.objects.filter(frequency_grid__isnull=True).only("data", "n_points").iterator(2000):
        data = bytes(spectrum.data)
        if len(data) != 24 * spectrum.n_points:
            continue
        frequencies = data[: 8 * spectrum.n_points]
        sha256 = hashlib.sha256(frequencies).hexdigest()
        if sha256 not in known:
            grid_model.objects.create(sha256=sha256, n_points=spectrum.n_points, data=frequencies)
            known.add(sha256)
        spectrum.frequency_grid_id, spectrum.data = sha256, data[8 * spectrum.n_points :]
        batch.append(spectrum)
        if len(batch) == 2000:
            spectrum_model.objects.bulk_update(batch, ["frequency_grid", "data"])
            batch = []
    spectrum_model.objects.bulk_update(batch, ["frequency_grid", "data"])


def pack_grids_back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {SPECTRA} s SET data = g.data || s.data, frequency_grid_id = NULL "
                f"FROM {GRIDS} g WHERE g.sha256 = s.frequency_grid_id"
            )
        return
    spectrum_model = apps.get_model("measurements", "ImpedanceSpectrum")
    grids = dict(apps.get_model("measurements", "FrequencyGrid").objects.values_list("sha256", "data"))
    batch = []
    for spectrum in spectrum_model.objects.filter(frequency_grid__isnull=False).only("data", "frequency_grid").iterator(2000):
        spectrum.data = bytes(grids[spectrum.frequency_grid_id]) + bytes(spectrum.data)
        spectrum.frequency_grid_id = None
        batch.append(spectrum)
        if len(batch) == 2000:
            spectrum_model.objects.bulk_update(batch, ["frequency_grid", "data"])
            batch = []
    spectrum_model.objects.bulk_update(batch, ["frequency_grid", "data"])


class Migration(migrations.Migration):

    dependencies = [
        ('measurements', '0005_drop_fk_indexes_led_by_composites'),
    ]

    operations = [
        migrations.CreateModel(
            name='FrequencyGrid',
            fields=[
                ('sha256', models.CharField(help_text='SHA-256 (hex) of the frequency bytes.', max_length=64, primary_key=True, serialize=False)),
                ('n_points', models.PositiveIntegerField()),
                ('data', models.BinaryField(help_text='float64 LE: n frequencies (Hz).')),
            ],
        ),
        migrations.AlterField(
            model_name='impedancespectrum',
            name='data',
            field=models.BinaryField(help_text="float64 LE: n Z' (Ω), n Z'' (Ω), after n frequencies (Hz) when there is no frequency grid."),
        ),
        migrations.AddField(
            model_name='impedancespectrum',
            name='frequency_grid',
            field=models.ForeignKey(blank=True, db_index=False, help_text='The shared frequencies of the sweep; null when they are stored in data.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='measurements.frequencygrid'),
        ),
        migrations.RunPython(share_grids, pack_grids_back),
    ]
