"""Jobs: lifecycle, idempotent delivery, retries, time limits, re-fit fan-out and the sweep."""
import datetime

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from apps.analysis import protocols, services
from apps.analysis.models import FitProtocol, FitResult, FitStatus, Job
from tests.analysis.synthetic import BULK_BEYOND, BULK_BEYOND_TRUTH, set_spectrum, spectrum_arrays
from tests.factories import CellFactory, FitProtocolFactory, SpectrumFactory


def _spectra(n, cell=None):
    cell = cell or CellFactory()
    f, z = spectrum_arrays(BULK_BEYOND, BULK_BEYOND_TRUTH, f_max_hz=1e6, n=41)
    return [set_spectrum(SpectrumFactory(cell=cell, group=cell.group), f, z) for _ in range(n)]


@pytest.mark.django_db
def test_queue_analysis_creates_one_queued_job_per_spectrum_sent_on_commit(django_capture_on_commit_callbacks):
    spectra = _spectra(3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs = services.queue_analysis(spectrum_ids=[s.pk for s in spectra])
    assert len(jobs) == 3 and len(callbacks) == 3
    assert {(j.kind, j.target_type, j.state) for j in Job.objects.all()} == {
        (Job.Kind.ANALYSE_SPECTRUM, "spectrum", Job.State.QUEUED)
    }
    assert all(j.celery_task_id and j.dispatches == 1 for j in Job.objects.all())


@pytest.mark.django_db
def test_succeeded_job_records_its_timings_progress_and_result(run_jobs):
    (spectrum,) = _spectra(1)
    with run_jobs():
        (job,) = services.queue_analysis(spectrum_ids=[spectrum.pk])
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.error == ""
    assert job.started_at <= job.finished_at and job.heartbeat_at is not None
    assert (job.progress_done, job.progress_total, job.attempts) == (1, 1, 1)
    assert job.result["fit_status"] == FitStatus.SUCCEEDED


@pytest.mark.django_db
def test_a_finished_job_delivered_again_does_nothing(run_jobs):
    (spectrum,) = _spectra(1)
    with run_jobs():
        (job,) = services.queue_analysis(spectrum_ids=[spectrum.pk])
    job.refresh_from_db()
    assert services.run_job(job_id=job.pk) is None
    again = Job.objects.get(pk=job.pk)
    assert (again.attempts, again.finished_at) == (job.attempts, job.finished_at)


@pytest.mark.django_db
def test_validate_task_stores_only_the_kramers_kronig_check(run_jobs):
    (spectrum,) = _spectra(1)
    job = Job.objects.create(kind=Job.Kind.VALIDATE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.result["kk_passed"] is True
    assert not FitResult.objects.exists()


@pytest.mark.django_db
def test_job_of_a_deleted_spectrum_fails_with_a_readable_reason(run_jobs):
    job = Job.objects.create(kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=987654)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "no longer exists" in job.error


@pytest.mark.django_db
def test_transient_database_error_is_retried_until_it_passes(run_jobs, monkeypatch, settings):
    settings.CELERY_TASK_EAGER_PROPAGATES = False  # an eager retry is re-applied only when not propagated
    (spectrum,) = _spectra(1)
    calls = []
    real = services.EXECUTORS[Job.Kind.ANALYSE_SPECTRUM]

    def flaky(job):
        calls.append(job.pk)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return real(job)

    monkeypatch.setitem(services.EXECUTORS, Job.Kind.ANALYSE_SPECTRUM, flaky)
    with run_jobs():
        (job,) = services.queue_analysis(spectrum_ids=[spectrum.pk])
    job.refresh_from_db()
    assert len(calls) == 3 and job.state == Job.State.SUCCEEDED


@pytest.mark.django_db
def test_unexpected_error_fails_the_job_once_without_retry(run_jobs, monkeypatch):
    (spectrum,) = _spectra(1)
    calls = []

    def broken(job):
        calls.append(job.pk)
        raise KeyError("CPE9_Q")

    monkeypatch.setitem(services.EXECUTORS, Job.Kind.ANALYSE_SPECTRUM, broken)
    with run_jobs():
        (job,) = services.queue_analysis(spectrum_ids=[spectrum.pk])
    job.refresh_from_db()
    assert len(calls) == 1
    assert job.state == Job.State.FAILED and "KeyError" in job.error and job.finished_at


@pytest.mark.django_db
def test_soft_time_limit_fails_the_job_with_the_limit_named(run_jobs, monkeypatch, settings):
    (spectrum,) = _spectra(1)

    def slow(job):
        raise SoftTimeLimitExceeded()

    monkeypatch.setitem(services.EXECUTORS, Job.Kind.ANALYSE_SPECTRUM, slow)
    with run_jobs():
        (job,) = services.queue_analysis(spectrum_ids=[spectrum.pk])
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert f"time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s" in job.error


@pytest.mark.django_db
def test_job_started_too_often_without_finishing_is_failed(run_jobs):
    (spectrum,) = _spectra(1)
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk, attempts=services.MAX_ATTEMPTS
    )
    services.run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "Gave up" in job.error
    assert not FitResult.objects.exists()


# ---------------------------------------------------------------------------
# Re-fit fan-out
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_refit_fans_out_in_chunks_and_counts_progress(run_jobs, monkeypatch, group):
    monkeypatch.setattr(services, "REFIT_CHUNK_SIZE", 2)
    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,CPE1)-CPE2", element_roles={"R0": "total"})
    spectra = _spectra(5)
    for s in spectra:
        FitResult.objects.create(spectrum=s, protocol=protocol, status=FitStatus.FAILED, error="old", engine_version="0")
    with run_jobs():
        parent = services.refit_protocol(protocol=protocol)
    parent.refresh_from_db()
    children = parent.children.all()
    assert children.count() == 3 and all(c.state == Job.State.SUCCEEDED for c in children)
    assert parent.state == Job.State.SUCCEEDED
    assert (parent.progress_done, parent.progress_total) == (5, 5)
    assert parent.result["succeeded"] == 5
    assert FitResult.objects.filter(protocol=protocol, status=FitStatus.SUCCEEDED).count() == 5


@pytest.mark.django_db
def test_standard_refit_touches_only_spectra_the_rule_assigns_to_it(run_jobs):
    spectra = _spectra(2)  # single arc from a large offset: "bulk beyond"
    protocol = FitProtocol.objects.get(name=protocols.BLOCKING_PELLET, version=1)
    with run_jobs():
        parent = services.refit_protocol(protocol=protocol)
    parent.refresh_from_db()
    assert parent.result["not_applicable"] == 2
    assert not FitResult.objects.filter(protocol=protocol, spectrum__in=spectra).exists()


@pytest.mark.django_db
def test_refit_with_nothing_to_do_succeeds_at_once(run_jobs, group):
    protocol = FitProtocolFactory(group=group)
    with run_jobs():
        parent = services.refit_protocol(protocol=protocol)
    parent.refresh_from_db()
    assert parent.state == Job.State.SUCCEEDED and parent.result == {"spectra": 0}


@pytest.mark.django_db
def test_refit_command_prints_progress_and_fits_every_spectrum(capsys, monkeypatch):
    monkeypatch.setattr(services, "REFIT_CHUNK_SIZE", 2)
    spectra = _spectra(3)
    call_command("refit", "--protocol", protocols.BLOCKING_PELLET_BULK_BEYOND)
    out = capsys.readouterr().out
    assert "re-fit 2/3 spectra (67 %)" in out and "re-fit 3/3 spectra (100 %)" in out
    protocol = FitProtocol.objects.get(name=protocols.BLOCKING_PELLET_BULK_BEYOND)
    assert FitResult.objects.filter(protocol=protocol, spectrum__in=spectra, status=FitStatus.SUCCEEDED).count() == 3


@pytest.mark.django_db
def test_refit_command_needs_a_protocol_or_all():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--protocol NAME or --all"):
        call_command("refit")
    with pytest.raises(CommandError, match="No protocol 'nonsense'"):
        call_command("refit", "--protocol", "nonsense")


# ---------------------------------------------------------------------------
# Sweep
# ---------------------------------------------------------------------------


def _stale(minutes=30):
    return timezone.now() - datetime.timedelta(minutes=minutes)


@pytest.mark.django_db
def test_sweep_requeues_a_job_whose_worker_died(run_jobs):
    (spectrum,) = _spectra(1)
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk, state=Job.State.RUNNING,
        attempts=1, started_at=_stale(), heartbeat_at=_stale(),
    )
    with run_jobs():
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [job.pk]
    assert job.state == Job.State.SUCCEEDED and job.attempts == 2
    assert FitResult.objects.filter(spectrum=spectrum).count() == 1


@pytest.mark.django_db
def test_sweep_fails_a_job_that_killed_its_worker_too_often(run_jobs):
    (spectrum,) = _spectra(1)
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk, state=Job.State.RUNNING,
        attempts=services.MAX_ATTEMPTS, heartbeat_at=_stale(),
    )
    with run_jobs():
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.failed == [job.pk]
    assert job.state == Job.State.FAILED and "stopped answering" in job.error


@pytest.mark.django_db
def test_sweep_leaves_a_job_with_a_recent_heartbeat_alone(run_jobs):
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=1, state=Job.State.RUNNING,
        attempts=1, heartbeat_at=timezone.now(),
    )
    with run_jobs() as callbacks:
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [] and report.failed == [] and callbacks == []
    assert job.state == Job.State.RUNNING


@pytest.mark.django_db
def test_sweep_resends_a_queued_job_never_picked_up(django_capture_on_commit_callbacks):
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=1, dispatches=1, dispatched_at=_stale(60)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [job.pk] and len(callbacks) == 1 and job.dispatches == 2


@pytest.mark.django_db
def test_sweep_fails_a_queued_job_after_the_dispatch_cap():
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=1, dispatches=services.MAX_DISPATCHES,
        dispatched_at=_stale(60),
    )
    report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.failed == [job.pk] and job.state == Job.State.FAILED and "No worker picked" in job.error


@pytest.mark.django_db
def test_sweep_does_not_requeue_a_refit_whose_chunks_are_still_open():
    parent = Job.objects.create(
        kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=1, state=Job.State.RUNNING, attempts=1,
        heartbeat_at=_stale(),
    )
    Job.objects.create(
        kind=Job.Kind.REFIT_CHUNK, target_type="protocol", target_id=1, parent=parent, dispatched_at=timezone.now()
    )
    report = services.sweep_jobs()
    assert parent.pk not in report.requeued + report.failed


@pytest.mark.django_db
def test_sweep_task_is_on_the_beat_schedule():
    from assbdb.celery import app

    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == "analysis.sweep_jobs"]
    assert entries and entries[0]["schedule"] <= 60
    assert "analysis.sweep_jobs" in app.tasks


@pytest.mark.parametrize(
    "name",
    ["analyse_spectrum", "validate_spectrum", "fit_spectrum", "fit_arrhenius_series", "refit_protocol",
     "refit_chunk", "recompute_benchmarks"],
)
def test_job_tasks_ack_late_and_survive_a_lost_worker(name):
    from apps.analysis import tasks

    task = getattr(tasks, name)
    assert task.acks_late and task.reject_on_worker_lost
    assert OperationalError in task.autoretry_for and task.retry_backoff and task.max_retries


@pytest.mark.django_db
def test_new_protocol_version_refits_what_the_old_one_fitted(run_jobs, member, group):
    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,CPE1)-CPE2", element_roles={"R0": "total"})
    spectra = _spectra(3)
    for s in spectra:
        services.fit_spectrum(spectrum_id=s.pk, protocol_id=protocol.pk)
    with run_jobs():
        new = services.create_protocol_version(base=protocol, user=member, weighting="unit")
    refit = Job.objects.get(kind=Job.Kind.REFIT_PROTOCOL, target_id=new.pk)
    assert refit.state == Job.State.SUCCEEDED and refit.progress_done == refit.progress_total == 3
    assert FitResult.objects.filter(protocol=new, status=FitStatus.SUCCEEDED).count() == 3
    assert FitResult.objects.filter(protocol=protocol).count() == 3  # the old version's fits stay


@pytest.mark.django_db
def test_request_fit_without_protocol_uses_the_standard_one(run_jobs, member, group):
    cell = CellFactory(group=group)
    (spectrum,) = _spectra(1, cell=cell)
    with run_jobs():
        job = services.request_fit(spectrum=spectrum, user=member)
    job.refresh_from_db()
    fit = FitResult.objects.get(pk=job.result["fit_id"])
    assert job.state == Job.State.SUCCEEDED and fit.protocol.is_standard
    assert fit.protocol.name == protocols.BLOCKING_PELLET_BULK_BEYOND


@pytest.mark.django_db
def test_queue_analysis_skips_ids_of_spectra_that_do_not_exist(run_jobs):
    (spectrum,) = _spectra(1)
    with run_jobs():
        jobs = services.queue_analysis(spectrum_ids=[spectrum.pk, 987654])
    assert [j.target_id for j in jobs] == [spectrum.pk]


@pytest.mark.django_db
def test_refit_started_again_after_its_fan_out_does_not_fan_out_twice(run_jobs, group):
    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,CPE1)-CPE2", element_roles={"R0": "total"})
    for s in _spectra(2):
        services.fit_spectrum(spectrum_id=s.pk, protocol_id=protocol.pk)
    with run_jobs():
        parent = services.refit_protocol(protocol=protocol)
    Job.objects.filter(pk=parent.pk).update(state=Job.State.RUNNING, heartbeat_at=_stale())  # as if its worker died
    with run_jobs():
        services.sweep_jobs()
    parent.refresh_from_db()
    assert parent.children.count() == 1 and parent.state == Job.State.SUCCEEDED


@pytest.mark.django_db
def test_refit_all_fits_every_spectrum_under_its_own_standard_protocol(capsys):
    from tests.analysis.synthetic import SYMMETRIC, SYMMETRIC_TRUTH

    pellets = _spectra(2)
    symmetric_cell = CellFactory(configuration="symmetric")
    f, z = spectrum_arrays(SYMMETRIC, SYMMETRIC_TRUTH, f_max_hz=1e6, n=41)
    symmetric = set_spectrum(SpectrumFactory(cell=symmetric_cell, group=symmetric_cell.group), f, z)
    call_command("refit", "--all")
    out = capsys.readouterr().out
    assert f"{protocols.SYMMETRIC_LI_CELL} v1: succeeded" in out
    names = dict(FitResult.objects.values_list("spectrum_id", "protocol__name"))
    assert names == {
        pellets[0].pk: protocols.BLOCKING_PELLET_BULK_BEYOND, pellets[1].pk: protocols.BLOCKING_PELLET_BULK_BEYOND,
        symmetric.pk: protocols.SYMMETRIC_LI_CELL,
    }
