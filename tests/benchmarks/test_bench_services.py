"""recompute_entries, literature import, reproduce bundle and the background hooks."""
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest
from django.conf import settings
from django.db import connection

from apps.analysis.eis import ENGINE_VERSION
from apps.benchmarks import bundles, services
from apps.benchmarks.models import BenchmarkEntry, LiteratureValue, Metric
from apps.benchmarks.selectors import literature_percentile
from tests.benchmarks.bench_factories import ConductivityFactory, FitFactory, LiteratureValueFactory
from tests.factories import CellFactory, PressureStepFactory, SpectrumFactory
from tests.processes import database_url_for_processes

pytestmark = pytest.mark.django_db

ENTRY_FIELDS = ["separator_id", "cell_id", "metric", "family", "value", "unit", "stderr", "ci_low", "ci_high",
                "temperature_c", "stack_pressure_mpa", "thickness_um", "method", "protocol_id",
                "completeness_score", "missing_items", "flags", "blocking", "details", "computed_at"]


def populated_cell(**cell_fields):
    cell = CellFactory(**cell_fields)
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10)
    for t in (25.0, 40.0, 60.0, 80.0):
        spectrum = SpectrumFactory(cell=cell, group=cell.group, temperature_c=t, visibility=cell.visibility)
        ConductivityFactory(fit=FitFactory(spectrum=spectrum), temperature_c=t,
                            conductivity_s_per_cm=1e-4 * (1 + (t - 25) / 20))
    return cell


def snapshot():
    return sorted(BenchmarkEntry.objects.values_list(*ENTRY_FIELDS))


def test_recompute_creates_separator_entries():
    cell = populated_cell()
    assert services.recompute_entries(separator_ids=[cell.separator_id]) > 0
    metrics = set(BenchmarkEntry.objects.filter(separator=cell.separator, cell=None).values_list("metric", flat=True))
    assert {Metric.SIGMA_25C_TOTAL, Metric.ACTIVATION_ENERGY, Metric.SEPARATOR_ASR} <= metrics


def test_recompute_twice_changes_nothing():
    cell = populated_cell()
    services.recompute_entries(separator_ids=[cell.separator_id], cell_ids=[cell.pk])
    before = snapshot()
    assert services.recompute_entries(separator_ids=[cell.separator_id], cell_ids=[cell.pk]) == 0
    assert snapshot() == before


def test_recompute_from_a_cell_reaches_its_separator():
    cell = populated_cell()
    services.recompute_entries(cell_ids=[cell.pk])
    assert BenchmarkEntry.objects.filter(separator=cell.separator, metric=Metric.SIGMA_25C_TOTAL).exists()


def test_recompute_deletes_entries_that_no_longer_apply():
    cell = populated_cell()
    services.recompute_entries(separator_ids=[cell.separator_id])
    separator = cell.separator
    separator.thickness_um = None
    separator.save()
    services.recompute_entries(separator_ids=[separator.pk])
    assert not BenchmarkEntry.objects.filter(separator=separator, metric=Metric.SEPARATOR_ASR).exists()


def test_recompute_follows_a_thickness_change():
    cell = populated_cell()
    services.recompute_entries(separator_ids=[cell.separator_id])
    asr = BenchmarkEntry.objects.get(separator=cell.separator, metric=Metric.SEPARATOR_ASR)
    cell.separator.thickness_um = 400.0
    cell.separator.save()
    services.recompute_entries(separator_ids=[cell.separator_id])
    asr_after = BenchmarkEntry.objects.get(pk=asr.pk)
    assert asr_after.value == pytest.approx(asr.value / 2)


def test_entry_stores_completeness_with_missing_items():
    cell = populated_cell()
    services.recompute_entries(separator_ids=[cell.separator_id])
    entry = BenchmarkEntry.objects.get(separator=cell.separator, metric=Metric.SIGMA_25C_TOTAL)
    assert 0 < entry.completeness_score < 1
    assert "AC amplitude" in entry.missing_items


def test_pressure_step_added_after_commit_recomputes_in_background(django_capture_on_commit_callbacks, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    cell = CellFactory()
    spectrum = SpectrumFactory(cell=cell, group=cell.group)
    ConductivityFactory(fit=FitFactory(spectrum=spectrum))
    services.recompute_entries(separator_ids=[cell.separator_id])
    entry = BenchmarkEntry.objects.get(separator=cell.separator, metric=Metric.SIGMA_25C_TOTAL)
    assert "no_pressure_history" in entry.flags
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=20)
        PressureStepFactory(cell=cell, phase="densification", pressure_mpa=300)
    assert len(callbacks) >= 1
    entry.refresh_from_db()
    assert "no_pressure_history" not in entry.flags


# --- literature -------------------------------------------------------------------


def test_literature_import_reads_all_599_rows_once(instrument_files):
    path = instrument_files.parent / "literature" / "obelix-all.csv"
    first = services.import_literature(path)
    assert (first.total, first.created) == (599, 599)
    second = services.import_literature(path)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 599)
    assert LiteratureValue.objects.count() == 599


def test_literature_import_maps_families_and_keeps_reported_one(instrument_files):
    services.import_literature(instrument_files.parent / "literature" / "obelix-all.csv")
    assert LiteratureValue.objects.filter(family="garnet").count() >= 100
    lgps = LiteratureValue.objects.filter(family_reported="LGPS").first()
    assert lgps.family == "thiophosphate"
    upper = LiteratureValue.objects.filter(is_upper_bound=True)
    assert upper.count() == 37 and all(v.conductivity_s_per_cm <= 1e-8 for v in upper)


def test_literature_import_of_a_bad_line_names_it_and_stores_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ID,Reduced Composition,Ionic conductivity (S cm-1),Family,DOI\n"
                    "a1,Li7La3Zr2O12,1e-4,garnet,10.1/x\n"
                    "a2,Li3InCl6,fast,halides,10.1/y\n")
    with pytest.raises(services.LiteratureImportError, match=r"bad.csv, line 3: .*Ionic conductivity"):
        services.import_literature(path)
    assert LiteratureValue.objects.count() == 0


@pytest.mark.parametrize("value, expected", [(1e-5, 0.0), (5e-4, 50.0), (1e-2, 100.0)])
def test_literature_percentile_places_a_value_among_its_family(value, expected):
    for sigma in (1e-4, 3e-4, 7e-4, 1e-3):
        LiteratureValueFactory(conductivity_s_per_cm=sigma, family="garnet")
    LiteratureValueFactory(conductivity_s_per_cm=1e-9, family="halide")
    assert literature_percentile(value, "garnet") == expected


def test_literature_percentile_is_none_without_published_values():
    assert literature_percentile(1e-3, "hydride") is None


# --- reproduce bundle ---------------------------------------------------------------


def test_reproduce_bundle_holds_protocol_spectra_fits_and_engine_version(owner):
    cell = populated_cell()
    services.recompute_entries(separator_ids=[cell.separator_id])
    entry = BenchmarkEntry.objects.get(separator=cell.separator, metric=Metric.ACTIVATION_ENERGY)
    archive = zipfile.ZipFile(io.BytesIO(bundles.reproduce_bundle(entry, user=owner)))
    names = archive.namelist()
    assert "README.md" in names and "entry.json" in names
    assert any(n.startswith("protocols/") for n in names)
    assert sum(n.startswith("spectra/") and n.endswith(".csv") for n in names) == 4
    assert sum(n.startswith("fits/") for n in names) == 4
    assert f"Engine version: {ENGINE_VERSION}" in archive.read("README.md").decode()
    assert json.loads(archive.read("entry.json"))["metric"] == Metric.ACTIVATION_ENERGY


def test_public_entry_and_its_bundle_use_no_spectrum_less_visible_than_the_separator(outsider):
    cell = populated_cell()
    hidden = cell.spectra.order_by("pk").first()
    hidden.visibility = "private"
    hidden.save()
    services.recompute_entries(separator_ids=[cell.separator_id])
    entry = BenchmarkEntry.objects.get(separator=cell.separator, metric=Metric.ACTIVATION_ENERGY)
    # A public separator's entry is computed only from records at least as visible as it: the private
    # spectrum is not in its numbers, so the bundle has nothing to leave out.
    assert hidden.pk not in entry.details.get("spectrum_ids", [])
    archive = zipfile.ZipFile(io.BytesIO(bundles.reproduce_bundle(entry, user=outsider)))
    assert f"spectra/{hidden.pk}.csv" not in archive.namelist()
    assert sum(n.endswith(".csv") for n in archive.namelist()) == 3
    assert "not visible to you" not in archive.read("README.md").decode()


def test_import_literature_command_prints_progress_and_is_idempotent(instrument_files):
    from django.core.management import call_command

    out = io.StringIO()
    path = str(instrument_files.parent / "literature" / "obelix-all.csv")
    call_command("import_literature", path, stdout=out)
    call_command("import_literature", path, stdout=out)
    text = out.getvalue()
    assert "599/599 rows" in text
    assert "0 new, 0 updated, 599 unchanged" in text
    assert LiteratureValue.objects.count() == 599


def test_recompute_benchmarks_command_covers_every_record():
    from django.core.management import call_command

    cell = populated_cell()
    out = io.StringIO()
    call_command("recompute_benchmarks", stdout=out)
    assert BenchmarkEntry.objects.filter(separator=cell.separator).exists()
    assert "benchmark entries created, changed or deleted" in out.getvalue()


def test_recompute_benchmarks_command_recomputes_each_separator_once(monkeypatch):
    from django.core.management import call_command

    cell = populated_cell()
    CellFactory(group=cell.group, separator=cell.separator)
    lone = CellFactory(group=cell.group, separator=None)
    calls = []
    real = services.recompute_entries
    monkeypatch.setattr(services, "recompute_entries", lambda **ids: calls.append(ids) or real(**ids))
    out = io.StringIO()
    call_command("recompute_benchmarks", stdout=out)
    # The separator's run covers both of its cells; only the cell without a separator runs alone.
    assert calls == [{"separator_ids": [cell.separator_id]}, {"cell_ids": [lone.pk]}]
    assert "separators: 1/1" in out.getvalue() and "cells: 1/1" in out.getvalue()


def test_recompute_benchmarks_command_in_background_queues_one_job_per_separator(django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from apps.jobs.models import Job

    cell = populated_cell()
    CellFactory(group=cell.group, separator=cell.separator)
    lone = CellFactory(group=cell.group, separator=None)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("recompute_benchmarks", "--background", stdout=out)
    jobs = Job.objects.filter(kind=Job.Kind.RECOMPUTE_BENCHMARKS)
    assert sorted(jobs.values_list("target_type", "target_id")) == [("cell", lone.pk), ("separator", cell.separator_id)]
    assert "2 recomputation jobs queued" in out.getvalue()


def test_recompute_reads_each_spectrum_once_for_a_separator_and_its_cells():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cell = populated_cell()
    other = populated_cell(separator=cell.separator, group=cell.group)
    with CaptureQueriesContext(connection) as queries:
        services.recompute_entries(separator_ids=[cell.separator_id], cell_ids=[cell.pk, other.pk])
    spectrum_reads = [q["sql"] for q in queries.captured_queries
                      if q["sql"].startswith('SELECT "measurements_impedancespectrum"."id"')]
    fit_reads = [q["sql"] for q in queries.captured_queries
                 if q["sql"].startswith('SELECT "analysis_fitresult"."id"') and '"residuals_real"' not in q["sql"]
                 and '"parameters"' in q["sql"]]
    assert len(spectrum_reads) == 1  # the separator's pass reads both cells' spectra; the cells' passes reuse them
    assert len(fit_reads) == 1


def test_recompute_with_shared_rows_writes_what_separate_passes_write():
    cell = populated_cell()
    populated_cell(separator=cell.separator, group=cell.group)
    services.recompute_entries(separator_ids=[cell.separator_id])
    together = snapshot()
    BenchmarkEntry.objects.all().delete()
    services._recompute_entries(separator_ids=[cell.separator_id])  # no sharing: every pass reads its own rows
    assert [row[:-1] for row in snapshot()] == [row[:-1] for row in together]  # all but computed_at


@pytest.mark.django_db(transaction=True)  # the worker processes read committed rows over their own connections
def test_recompute_benchmarks_command_with_two_workers_writes_what_one_process_writes():
    from django.core.management import call_command

    first = populated_cell()
    populated_cell(separator=first.separator, group=first.group)
    populated_cell()
    call_command("recompute_benchmarks", stdout=io.StringIO())
    one_process = [row[:-1] for row in snapshot()]
    BenchmarkEntry.objects.all().delete()
    if connection.vendor == "postgresql":  # two forked processes, one task per separator
        # Forked from a fresh process, as from a shell: this test process runs threads of earlier tests, and a
        # child forked while one of them holds a lock would wait for it forever.
        done = subprocess.run(
            [sys.executable, "manage.py", "recompute_benchmarks", "--workers", "2"], cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": database_url_for_processes()}, capture_output=True, text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "records: 2/2" in done.stdout
    else:  # SQLite takes one writer: the command says so and runs in one process
        out = io.StringIO()
        call_command("recompute_benchmarks", "--workers", "2", stdout=out)
        assert "recomputing in one process" in out.getvalue() and "separators: 2/2" in out.getvalue()
    assert [row[:-1] for row in snapshot()] == one_process and one_process


def test_separator_arrhenius_summary_is_read_from_the_cache_until_its_recomputation(
        monkeypatch, django_capture_on_commit_callbacks):
    from apps.catalog import figures
    from tests.factories import UserFactory

    monkeypatch.setattr(figures, "MAX_ARRHENIUS_POINTS", 2)  # 4 spectra: summarised per temperature, so cached
    cell = populated_cell()
    viewer = UserFactory(is_superuser=True)
    temperatures = lambda points: sorted({t for rows in points.values() for t, _, _ in rows})  # noqa: E731
    assert temperatures(figures._conductivity_points(cell.separator, viewer)) == [25.0, 40.0, 60.0, 80.0]
    spectrum = SpectrumFactory(cell=cell, group=cell.group, temperature_c=100.0, visibility=cell.visibility)
    ConductivityFactory(fit=FitFactory(spectrum=spectrum), temperature_c=100.0)
    assert temperatures(figures._conductivity_points(cell.separator, viewer)) == [25.0, 40.0, 60.0, 80.0]
    with django_capture_on_commit_callbacks(execute=True):
        services.recompute_entries(cell_ids=[cell.pk])  # what the new spectrum queues
    assert temperatures(figures._conductivity_points(cell.separator, viewer)) == [25.0, 40.0, 60.0, 80.0, 100.0]
