"""Broker down: an upload or a fit request still succeeds; its jobs wait in the Job table (the outbox)
until the sweep sends them, so no spectrum is left without its analysis."""
import io

import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.analysis.models import FitResult
from apps.jobs import services
from apps.jobs.models import Job
from tests.factories import CellFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


def _upload(client_for, group, instrument_files):
    cell = CellFactory(group=group, visibility=Visibility.GROUP)
    handle = io.BytesIO((instrument_files / "exampleDataGamry.DTA").read_bytes())
    handle.name = "exampleDataGamry.DTA"
    return client_for("member").post(reverse("api:spectrum-upload"), {"file": handle, "cell": cell.pk},
                                     format="multipart")


def test_upload_with_the_broker_down_succeeds_and_the_sweep_sends_its_jobs_later(
    broker_down, celery_conf, client_for, group, instrument_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client_for, group, instrument_files)
    assert response.status_code == 201, response.content
    spectrum_ids = [s["id"] for f in response.json()["files"] for s in f["spectra"]]
    jobs = Job.objects.filter(kind=Job.Kind.ANALYSE_SPECTRUM, target_id__in=spectrum_ids)
    assert jobs.count() == len(spectrum_ids) >= 1
    assert set(jobs.values_list("state", "dispatched_at", "dispatches")) == {(Job.State.QUEUED, None, 0)}

    # The broker is back (eager stands in for a worker): the next sweep sends them and they finish.
    celery_conf(task_always_eager=True)
    with django_capture_on_commit_callbacks(execute=True):
        unsent = set(Job.objects.filter(dispatched_at=None).values_list("pk", flat=True))
        report = services.sweep_jobs(backlog=services.broker_backlog())
    assert set(jobs.values_list("pk", flat=True)) <= unsent
    assert set(report.requeued) == unsent
    assert set(jobs.values_list("state", flat=True)) == {Job.State.SUCCEEDED}
    assert FitResult.objects.filter(spectrum_id__in=spectrum_ids).count() == len(spectrum_ids)


def test_fit_request_with_the_broker_down_answers_with_a_queued_job(broker_down, client_for, group, standard_protocols,
                                                                      django_capture_on_commit_callbacks):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.GROUP, cell__visibility=Visibility.GROUP)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("member").post(reverse("api:spectrum-fit", args=[spectrum.pk]),
                                             {"protocol": standard_protocols.first().pk}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(kind=Job.Kind.FIT_SPECTRUM, target_id=spectrum.pk)
    assert job.state == Job.State.QUEUED and job.dispatched_at is None


