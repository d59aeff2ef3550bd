"""Benchmark recomputation is a Job row like every other background computation (benchmarks/queueing.py, jobs.py)."""
import pytest

from apps.benchmarks.queueing import queue_recompute_jobs
from apps.benchmarks import services
from apps.benchmarks.models import BenchmarkEntry, Metric
from apps.jobs.models import Job
from tests.benchmarks.bench_factories import ConductivityFactory, FitFactory
from tests.factories import CellFactory, PressureStepFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


def _recompute_jobs():
    return Job.objects.filter(kind=Job.Kind.RECOMPUTE_BENCHMARKS)


def test_edits_in_one_transaction_queue_one_recompute_job_per_target_on_commit(django_capture_on_commit_callbacks):
    cell = CellFactory()
    assert not _recompute_jobs().exists()  # the factory's own hooks wait for a commit that never comes
    with django_capture_on_commit_callbacks(execute=True, using="default") as callbacks:
        PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=20)
        PressureStepFactory(cell=cell, phase="densification", pressure_mpa=300)
        cell.separator.save()
    assert callbacks
    jobs = _recompute_jobs()
    # The separator's job recomputes its cells too: no separate job for the cell.
    assert [(j.target_type, j.target_id, j.state) for j in jobs] == [
        ("separator", cell.separator_id, Job.State.SUCCEEDED)
    ]
    assert jobs.get().dispatches == 1 and jobs.get().group_id == cell.separator.group_id


def test_a_separator_job_recomputes_its_entries(run_jobs):
    cell = CellFactory()
    spectrum = SpectrumFactory(cell=cell, group=cell.group)
    ConductivityFactory(fit=FitFactory(spectrum=spectrum))
    assert not BenchmarkEntry.objects.filter(separator=cell.separator).exists()
    with run_jobs():
        (job,) = queue_recompute_jobs(separator_ids=[cell.separator_id], cell_ids=[cell.pk])
    job.refresh_from_db()
    assert (job.target_type, job.target_id, job.state) == ("separator", cell.separator_id, Job.State.SUCCEEDED)
    assert BenchmarkEntry.objects.filter(separator=cell.separator, metric=Metric.SIGMA_25C_TOTAL).exists()
    assert job.result["entries"] > 0
    assert services.recompute_entries(separator_ids=[cell.separator_id], cell_ids=[cell.pk]) == 0  # nothing left


def test_a_cell_without_its_separator_gets_its_own_job(run_jobs):
    cell = CellFactory()
    with run_jobs():
        (job,) = queue_recompute_jobs(cell_ids=[cell.pk])
    job.refresh_from_db()
    assert (job.target_type, job.target_id, job.state) == ("cell", cell.pk, Job.State.SUCCEEDED)
    assert job.result == {"entries": 0}  # a blocking cell has no cell-level metric


def test_a_queued_recompute_is_not_queued_twice(django_capture_on_commit_callbacks):
    cell = CellFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = queue_recompute_jobs(separator_ids=[cell.separator_id], cell_ids=[cell.pk])
        again = queue_recompute_jobs(separator_ids=[cell.separator_id])
    assert [j.pk for j in first] == [j.pk for j in again] and len(callbacks) == 1
    assert _recompute_jobs().get().state == Job.State.QUEUED
