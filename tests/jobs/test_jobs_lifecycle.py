"""Jobs: dispatch on commit, run once, failures with a readable reason, retries, time limits, parents."""
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.registry import Deferred, JobError, JobFailed, JobOutcome
from tests.factories import ResearchGroupFactory

pytestmark = pytest.mark.django_db


def _job(kind, **fields):
    return services.new_job(kind=kind, target_type="thing", target_id=1, target_label="thing 1", **fields)


def test_dispatch_sends_the_job_on_commit_with_a_task_id(job_kind, django_capture_on_commit_callbacks):
    job = _job(job_kind.kind)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.dispatch_job(job)
    job.refresh_from_db()
    assert len(callbacks) == 1 and job_kind.calls == []
    assert job.state == Job.State.QUEUED and job.celery_task_id and job.dispatches == 1 and job.dispatched_at


def test_succeeded_job_records_its_timings_progress_and_result(job_kind, run_jobs):
    job = _job(job_kind.kind)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert job_kind.calls == [job.pk]
    assert job.state == Job.State.SUCCEEDED and job.error == "" and job.result == {"ran": 1}
    assert job.started_at <= job.finished_at and job.heartbeat_at is not None
    assert (job.progress_done, job.progress_total, job.attempts) == (1, 1, 1)


def test_a_finished_job_delivered_again_does_nothing(job_kind, run_jobs):
    job = _job(job_kind.kind)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert services.run_job(job_id=job.pk) is None
    again = Job.objects.get(pk=job.pk)
    assert job_kind.calls == [job.pk]
    assert (again.attempts, again.finished_at) == (job.attempts, job.finished_at)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (JobError("the spectrum has no points"), "the spectrum has no points"),
        (Job.DoesNotExist(), "no longer exists (thing 1)"),
    ],
)
def test_a_job_error_or_a_vanished_target_fails_with_a_readable_reason(job_kind, error, expected):
    def fail(job):
        raise error

    job_kind.behave = fail
    job = services.run_job(job_id=_job(job_kind.kind).pk)
    assert job.state == Job.State.FAILED and expected in job.error and job.finished_at


def test_a_kind_nobody_registered_fails_with_the_reason():
    job = services.run_job(job_id=_job("nobody_registered").pk)
    assert job.state == Job.State.FAILED and "No handler is registered" in job.error


def test_a_deferred_job_is_cancelled_with_its_reason(job_kind):
    def defer(job):
        raise Deferred("waiting for its siblings")

    job_kind.behave = defer
    job = services.run_job(job_id=_job(job_kind.kind).pk)
    assert job.state == Job.State.CANCELLED and job.error == "waiting for its siblings"


def test_a_failed_job_keeps_its_result_and_still_runs_its_followup(job_kind):
    followups = []

    def fail(job):
        raise JobFailed("fit failed", {"fit_status": "failed"}, lambda: followups.append(job.pk))

    job_kind.behave = fail
    job = services.run_job(job_id=_job(job_kind.kind).pk)
    assert (job.state, job.error, job.result) == (Job.State.FAILED, "fit failed", {"fit_status": "failed"})
    assert followups == [job.pk]


def test_the_followup_runs_after_the_job_is_recorded(job_kind):
    seen = []
    job_kind.behave = lambda job: JobOutcome(
        {"ran": 1}, followup=lambda: seen.append(Job.objects.get(pk=job.pk).state)
    )
    services.run_job(job_id=_job(job_kind.kind).pk)
    assert seen == [Job.State.SUCCEEDED]


def test_transient_database_error_is_retried_until_it_passes(job_kind, run_jobs, settings):
    settings.CELERY_TASK_EAGER_PROPAGATES = False  # an eager retry is re-applied only when not propagated

    def flaky(job):
        if len(job_kind.calls) < 3:
            raise OperationalError("database is locked")
        return JobOutcome({"ran": 1})

    job_kind.behave = flaky
    job = _job(job_kind.kind)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert len(job_kind.calls) == 3 and job.state == Job.State.SUCCEEDED


def test_unexpected_error_fails_the_job_once_without_retry(job_kind, run_jobs):
    def broken(job):
        raise KeyError("CPE9_Q")

    job_kind.behave = broken
    job = _job(job_kind.kind)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert len(job_kind.calls) == 1
    assert job.state == Job.State.FAILED and "KeyError" in job.error and job.finished_at


def test_soft_time_limit_fails_the_job_with_the_limit_named(job_kind, run_jobs, settings):
    def slow(job):
        raise SoftTimeLimitExceeded()

    job_kind.behave = slow
    job = _job(job_kind.kind)
    with run_jobs():
        services.dispatch_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert f"time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s" in job.error


def test_job_started_too_often_without_finishing_is_failed(job_kind):
    job = _job(job_kind.kind)
    Job.objects.filter(pk=job.pk).update(attempts=services.MAX_ATTEMPTS)
    services.run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "Gave up" in job.error
    assert job_kind.calls == []


def test_ensure_queued_keeps_one_queued_job_per_kind_and_target(job_kind, django_capture_on_commit_callbacks):
    group = ResearchGroupFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.ensure_queued(kind=job_kind.kind, target_type="thing", target_id=7, target_label="t",
                                       group_id=group.pk)
        second = services.ensure_queued(kind=job_kind.kind, target_type="thing", target_id=7, target_label="t",
                                        group_id=group.pk)
        other = services.ensure_queued(kind=job_kind.kind, target_type="thing", target_id=8, target_label="u",
                                       group_id=group.pk)
    assert first.pk == second.pk != other.pk and len(callbacks) == 2
    assert Job.objects.filter(kind=job_kind.kind).count() == 2


def test_a_parent_finishes_with_its_last_child_and_sums_their_results(job_kind):
    parent = _job(job_kind.kind)
    services.start_job(parent.pk, None)
    children = [_job(job_kind.kind, parent=parent, total=2) for _ in range(2)]
    services.report_progress(children[0], done=1)
    parent.refresh_from_db()
    assert (parent.state, parent.progress_done) == (Job.State.RUNNING, 1)
    services.run_job(job_id=children[0].pk)
    parent.refresh_from_db()
    assert parent.state == Job.State.RUNNING
    services.run_job(job_id=children[1].pk)
    parent.refresh_from_db()
    assert parent.state == Job.State.SUCCEEDED
    assert parent.result == {"ran": 2, "spectra": 4} and parent.progress_done == parent.progress_total


def test_a_parent_fails_when_a_child_failed_and_names_it(job_kind):
    parent = _job(job_kind.kind)
    services.start_job(parent.pk, None)
    child = _job(job_kind.kind, parent=parent)
    services.fail_job(job_id=child.pk, error="worker lost")
    parent.refresh_from_db()
    assert parent.state == Job.State.FAILED and "1 chunk(s) failed" in parent.error and "worker lost" in parent.error


def test_job_tasks_ack_late_and_survive_a_lost_worker():
    from apps.jobs import tasks

    task = tasks.run_job
    assert task.name == "jobs.run_job"
    assert task.acks_late and task.reject_on_worker_lost
    assert OperationalError in task.autoretry_for and task.retry_backoff and task.max_retries
