"""Analysis jobs: queueing, the analysis kinds end to end, re-fit fan-out (the job machinery: tests/jobs)."""
import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.analysis import jobs as analysis_jobs
from apps.analysis import protocols, services
from apps.jobs import services as job_services
from apps.analysis.models import FitProtocol, FitResult, FitStatus
from apps.analysis.services import fits as fits_service
from apps.jobs.models import Job
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
def test_validate_task_stores_only_the_kramers_kronig_check(run_jobs):
    (spectrum,) = _spectra(1)
    job = Job.objects.create(kind=Job.Kind.VALIDATE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk)
    with run_jobs():
        job_services.dispatch_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.result["kk_passed"] is True
    assert not FitResult.objects.exists()


@pytest.mark.django_db
def test_job_of_a_deleted_spectrum_fails_with_a_readable_reason(run_jobs):
    job = Job.objects.create(kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=987654)
    with run_jobs():
        job_services.dispatch_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "no longer exists" in job.error


# ---------------------------------------------------------------------------
# Re-fit fan-out
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_refit_fans_out_in_chunks_and_counts_progress(run_jobs, monkeypatch, group):
    monkeypatch.setattr(analysis_jobs, "REFIT_CHUNK_SIZE", 2)
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
    monkeypatch.setattr(analysis_jobs, "REFIT_CHUNK_SIZE", 2)
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


def _noisy_spectra(n):
    cell = CellFactory()
    return [set_spectrum(SpectrumFactory(cell=cell, group=cell.group),
                         *spectrum_arrays(BULK_BEYOND, BULK_BEYOND_TRUTH, f_max_hz=1e6, n=41, noise=0.002, seed=k))
            for k in range(1, n + 1)]


def _spy_on_engine(monkeypatch) -> list:
    """(seed_parameters, starts run) of every engine fit from now on."""
    calls = []
    real = fits_service.fit_circuit

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((kwargs.get("seed_parameters"), result.n_starts))
        return result

    monkeypatch.setattr(fits_service, "fit_circuit", spy)
    return calls


@pytest.mark.django_db
def test_refit_under_a_new_version_starts_from_the_previous_fit_and_stops_there(run_jobs, member, group, monkeypatch):
    protocol = FitProtocolFactory(group=group, circuit=BULK_BEYOND, element_roles={"R0": "total"})
    spectra = _noisy_spectra(3)
    for s in spectra:
        services.fit_spectrum(spectrum_id=s.pk, protocol_id=protocol.pk)
    previous = {f.spectrum_id: f for f in FitResult.objects.filter(protocol=protocol)}
    calls = _spy_on_engine(monkeypatch)
    with run_jobs():
        new = services.create_protocol_version(base=protocol, user=member, description="reworded")
    refitted = {f.spectrum_id: f for f in FitResult.objects.filter(protocol=new, status=FitStatus.SUCCEEDED)}
    assert [seed for seed, _ in calls] == [previous[s.pk].parameters for s in spectra]
    assert [starts for _, starts in calls] == [1, 1, 1]  # the previous optimum satisfies the early stop
    for s in spectra:
        assert refitted[s.pk].chi_square <= previous[s.pk].chi_square * (1 + 1e-9)
        assert refitted[s.pk].parameters == pytest.approx(previous[s.pk].parameters, rel=1e-4)


@pytest.mark.django_db
def test_refit_from_a_poor_previous_fit_still_finds_the_optimum(run_jobs, member, group, monkeypatch):
    protocol = FitProtocolFactory(group=group, circuit=BULK_BEYOND, element_roles={"R0": "total"})
    (spectrum,) = _noisy_spectra(1)
    fresh = services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk)
    poor = {**fresh.parameters, "R0": fresh.parameters["R0"] * 30, "CPE1_n": 0.5}  # a wrong basin's parameters
    FitResult.objects.filter(pk=fresh.pk).update(parameters=poor)
    calls = _spy_on_engine(monkeypatch)
    with run_jobs():
        new = services.create_protocol_version(base=protocol, user=member, description="reworded")
    refitted = FitResult.objects.get(protocol=new, spectrum=spectrum)
    assert calls[0][0] == poor and calls[0][1] > 1  # started there, and went on to other starts
    assert refitted.chi_square <= fresh.chi_square * (1 + 1e-6)


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
    Job.objects.filter(pk=parent.pk).update(
        state=Job.State.RUNNING, heartbeat_at=timezone.now() - datetime.timedelta(minutes=30)
    )  # as if its worker died
    with run_jobs():
        job_services.sweep_jobs()
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
