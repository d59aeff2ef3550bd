"""The sweep: jobs of dead workers and lost messages are sent again, and failed after the caps."""
import datetime

import pytest
from django.utils import timezone

from apps.jobs import services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def _stale(minutes=30):
    return timezone.now() - datetime.timedelta(minutes=minutes)


def test_sweep_requeues_a_job_whose_worker_died(job_kind, run_jobs):
    job = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, state=Job.State.RUNNING,
        attempts=1, started_at=_stale(), heartbeat_at=_stale(),
    )
    with run_jobs():
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [job.pk]
    assert job.state == Job.State.SUCCEEDED and job.attempts == 2
    assert job_kind.calls == [job.pk]


def test_sweep_fails_a_job_that_killed_its_worker_too_often(job_kind, run_jobs):
    job = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, state=Job.State.RUNNING,
        attempts=services.MAX_ATTEMPTS, heartbeat_at=_stale(),
    )
    with run_jobs():
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.failed == [job.pk]
    assert job.state == Job.State.FAILED and "stopped answering" in job.error
    assert job_kind.calls == []


def test_sweep_leaves_a_job_with_a_recent_heartbeat_alone(job_kind, run_jobs):
    job = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, state=Job.State.RUNNING,
        attempts=1, heartbeat_at=timezone.now(),
    )
    with run_jobs() as callbacks:
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [] and report.failed == [] and callbacks == []
    assert job.state == Job.State.RUNNING


def test_sweep_resends_a_queued_job_never_picked_up(job_kind, django_capture_on_commit_callbacks):
    job = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, dispatches=1, dispatched_at=_stale(60)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [job.pk] and len(callbacks) == 1 and job.dispatches == 2


def test_sweep_fails_a_queued_job_after_the_dispatch_cap(job_kind):
    job = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, dispatches=services.MAX_DISPATCHES,
        dispatched_at=_stale(60),
    )
    report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.failed == [job.pk] and job.state == Job.State.FAILED and "No worker picked" in job.error


def test_sweep_does_not_requeue_a_parent_whose_children_are_still_open(job_kind):
    parent = Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, state=Job.State.RUNNING, attempts=1,
        heartbeat_at=_stale(),
    )
    Job.objects.create(
        kind=job_kind.kind, target_type="thing", target_id=1, parent=parent, dispatched_at=timezone.now()
    )
    report = services.sweep_jobs()
    assert parent.pk not in report.requeued + report.failed


def test_sweep_task_is_on_the_beat_schedule():
    from assbdb.celery import app

    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == "jobs.sweep_jobs"]
    assert entries and entries[0]["schedule"] <= 60
    assert "jobs.sweep_jobs" in app.tasks
