"""A job's error, result and labels never name a record the viewer cannot see (issue 17).

Errors are written from ids and kinds only (an exception's own text, which may quote a separator's or a
cell's name, stays in the worker's log), and a job whose target is hidden from the viewer shows a fixed
sentence instead of its error and no result, whatever its row holds. Checked as a plain member of the
group (who sees the group's jobs but not a fellow member's private records), as a member of another group
and anonymously, on every job endpoint and page.
"""
import json

import pytest
from django.db import OperationalError
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.accounts.references import PRIVATE_LABEL
from apps.analysis.models import FitResult
from apps.analysis.selectors import HIDDEN_JOB_ERROR
from apps.analysis.services import queue_analysis
from apps.jobs import services as job_services
from apps.jobs import tasks
from apps.jobs.models import Job
from tests.factories import CellFactory, JobFactory, SeparatorFactory, SpectrumFactory

pytestmark = pytest.mark.django_db

SECRET = "zqsecret"


@pytest.fixture
def hidden(group, uploader):
    """A member's private separator, cell and spectrum (named with SECRET), and a group cell whose page lists
    the jobs of its spectra, one of them private."""
    separator = SeparatorFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE,
                                 name=f"{SECRET} separator")
    cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE, separator=separator,
                       name=f"{SECRET} cell")
    spectrum = SpectrumFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE, cell=cell,
                               label=f"{SECRET} spectrum")
    shared_cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.GROUP,
                              separator=SeparatorFactory(group=group, visibility=Visibility.GROUP))
    private_on_shared = SpectrumFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE,
                                        cell=shared_cell, label=f"{SECRET} spectrum on a shared cell")
    return {"separator": separator, "cell": cell, "spectrum": spectrum, "shared_cell": shared_cell,
            "private_on_shared": private_on_shared}


def _names(hidden) -> list[str]:
    return [hidden["separator"].name, hidden["cell"].name, hidden["spectrum"].label, SECRET]


def test_an_internal_error_naming_records_is_recorded_by_kind_only(group, uploader, hidden, monkeypatch):
    separator, cell = hidden["separator"], hidden["cell"]

    def crash(**kwargs):
        raise ValueError(f"cell {cell.name!r} of separator {separator.name!r} has a broken layer stack")

    monkeypatch.setattr("apps.benchmarks.services.recompute_entries", crash)
    job = job_services.new_job(kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="separator", target_id=separator.pk,
                               target_label=separator.name, group_id=group.pk)
    tasks.run_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == f"Internal error (ValueError) in job {job.pk}; the worker's log has the details."


def test_a_transient_error_given_up_on_is_recorded_by_kind_only(group, hidden):
    job = JobFactory(group=group, target_type="cell", target_id=hidden["cell"].pk, target_label=hidden["cell"].name)
    error = OperationalError(f'duplicate key value: Key (name)=({hidden["cell"].name}) already exists')
    tasks.run_job.on_failure(error, "task-id", [job.pk], {}, None)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "OperationalError" in job.error
    assert SECRET not in job.error


def test_a_parent_names_its_failed_chunks_by_job_id_not_by_label(group):
    parent = job_services.new_job(kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=1,
                                  target_label="Blocking pellet v1", group_id=group.pk)
    job_services.start_job(parent.pk, None)
    chunk = job_services.new_job(kind=Job.Kind.REFIT_CHUNK, target_type="protocol", target_id=1, parent=parent,
                                 target_label="Blocking pellet v1: spectra 1–50 of 2359", group_id=group.pk)
    job_services.fail_job(job_id=chunk.pk, error="Stopped at the time limit of 300 s.")
    parent.refresh_from_db()
    assert parent.error == f"1 chunk(s) failed. job {chunk.pk}: Stopped at the time limit of 300 s."


def test_a_fit_without_geometry_gives_its_reason_without_naming_the_separator(group, uploader, run_jobs):
    separator = SeparatorFactory(group=group, visibility=Visibility.PRIVATE, thickness_um=None,
                                 name=f"{SECRET} separator")
    cell = CellFactory(group=group, visibility=Visibility.PRIVATE, separator=separator, name=f"{SECRET} cell")
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PRIVATE, cell=cell)
    with run_jobs():
        (job,) = queue_analysis(spectrum_ids=[spectrum.pk], user=uploader)
    job.refresh_from_db()
    fit = FitResult.objects.get(spectrum=spectrum)
    stored = json.dumps([job.error, job.result, fit.error, fit.flags, fit.derived], default=str)
    assert "no thickness" in stored and SECRET not in stored


@pytest.fixture
def hidden_jobs(group, uploader, hidden):
    """Jobs of the group about the hidden records, their rows holding the names (as rows written before the
    rule did): a failed analysis of each private spectrum, a failed benchmark recomputation of the private
    separator, a failed model choice of the private cell."""
    rows = [
        ("spectrum", hidden["spectrum"].pk, Job.Kind.ANALYSE_SPECTRUM),
        ("spectrum", hidden["private_on_shared"].pk, Job.Kind.ANALYSE_SPECTRUM),
        ("separator", hidden["separator"].pk, Job.Kind.RECOMPUTE_BENCHMARKS),
        ("cell", hidden["cell"].pk, Job.Kind.CHOOSE_SERIES_MODEL),
    ]
    names = " / ".join(_names(hidden))
    return [
        JobFactory(group=group, created_by=uploader, kind=kind, target_type=target_type, target_id=target_id,
                   target_label=f"{SECRET} label", state=Job.State.FAILED,
                   error=f"Fit of {names} failed", result={"protocol": names, "kk_error": names},
                   params={"note": "no names in params"})
        for target_type, target_id, kind in rows
    ]


def _job_responses(client, jobs, shared_cell) -> list[str]:
    ids = ",".join(str(job.pk) for job in jobs)
    urls = [
        reverse("api:job-list"), reverse("api:job-list") + f"?search={SECRET}", reverse("api:job-list") + "?state=failed",
        *[reverse("api:job-detail", args=[job.pk]) for job in jobs],
        "/jobs/", "/jobs/?state=failed", reverse("analysis:job-status") + f"?ids={ids}",
        reverse("catalog:cell-detail", args=[shared_cell.pk]),
        reverse("catalog:separator-detail", args=[shared_cell.separator_id]),
    ]
    return [client.get(url).content.decode() for url in urls]


@pytest.mark.parametrize("role", ["member", "outsider", "anonymous"])
def test_no_job_endpoint_or_page_names_a_hidden_record(client, users, hidden, hidden_jobs, role):
    if users[role] is not None:
        client.force_login(users[role])
    bodies = _job_responses(client, hidden_jobs, hidden["shared_cell"])
    for name in _names(hidden):
        assert not [body for body in bodies if name in body], name
    if role == "member":  # the member sees the group's jobs, each saying only that it failed
        listed = client.get(reverse("api:job-list")).json()["results"]
        assert {(j["target_id"], j["target_label"], j["error"], json.dumps(j["result"])) for j in listed} == {
            (None, PRIVATE_LABEL, HIDDEN_JOB_ERROR, "{}")
        }
        assert HIDDEN_JOB_ERROR in "".join(bodies)


def test_those_who_see_the_records_read_the_whole_error(client, owner, hidden, hidden_jobs):
    client.force_login(owner)  # a group's owners see its private records
    body = client.get(reverse("api:job-detail", args=[hidden_jobs[0].pk])).json()
    assert body["error"] == hidden_jobs[0].error and body["result"] == hidden_jobs[0].result
    assert hidden["separator"].name in client.get("/jobs/").content.decode()
