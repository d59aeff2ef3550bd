"""Every write of the jobs app: creating, dispatching, running, finishing and sweeping Job rows.

A job is created (``new_job``), sent to the broker once the transaction
commits (``dispatch_job``), run by a worker (``run_job``: the registered
executor of its kind, see ``registry.py``), and finished once
(``finish_job``); a parent finishes when its last child does. Follow-ups are
debounced with ``ensure_queued`` (at most one queued job of a kind per
target). The periodic ``sweep_jobs`` re-sends jobs of dead workers and lost
messages and fails them after the caps.
"""
from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from .models import Job
from .registry import Deferred, JobError, JobFailed, job_kind

#: A job started this many times without finishing (worker killed, time limit) is failed.
MAX_ATTEMPTS = 5
#: A queued job sent this many times and never started is failed.
MAX_DISPATCHES = 5
#: Seconds a follow-up (Arrhenius, benchmarks) waits, so one upload's spectra are grouped.
FOLLOWUP_DELAY_S = 3
#: The Celery task that runs any job (``tasks.run_job``).
RUN_JOB_TASK = "jobs.run_job"

UNFINISHED = (Job.State.QUEUED, Job.State.RUNNING)
FINISHED = (Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED)


def stale_running_after() -> datetime.timedelta:
    """A running job whose heartbeat is older than this lost its worker (hard limit + margin)."""
    return datetime.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 360)) + 120)


def stale_queued_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(getattr(settings, "ANALYSIS_STALE_QUEUED_S", 1800)))


# ---------------------------------------------------------------------------
# Creation and dispatch
# ---------------------------------------------------------------------------


def dispatch_job(job: Job, *, countdown: float | None = None) -> None:
    """Send the job to the broker once the current transaction commits."""
    # By name: the task module imports this one (registered when the app is ready, see apps.py).
    run_job_task = current_app.tasks[RUN_JOB_TASK]
    task_id = str(uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(
        celery_task_id=task_id, dispatched_at=timezone.now(), dispatches=F("dispatches") + 1
    )
    job.celery_task_id = task_id
    job_id = job.pk

    def send() -> None:
        run_job_task.apply_async(args=[job_id], task_id=task_id, countdown=countdown)

    transaction.on_commit(send)


def new_job(
    *, kind: str, target_type: str, target_id: int, target_label: str = "", params: dict | None = None,
    user=None, group_id: int | None = None, parent: Job | None = None, total: int = 1,
) -> Job:
    return Job.objects.create(
        kind=kind, target_type=target_type, target_id=target_id, target_label=target_label[:200],
        params=params or {}, progress_total=max(total, 1), progress_done=0, parent=parent, group_id=group_id,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def ensure_queued(*, kind: str, target_type: str, target_id: int, target_label: str, group_id: int | None,
                  params: dict | None = None) -> Job:
    """At most one queued job of this kind per target: the debounce of follow-ups."""
    existing = Job.objects.filter(kind=kind, target_type=target_type, target_id=target_id, state=Job.State.QUEUED).first()
    if existing is not None:
        return existing
    job = new_job(kind=kind, target_type=target_type, target_id=target_id, target_label=target_label,
                  params=params, group_id=group_id)
    dispatch_job(job, countdown=FOLLOWUP_DELAY_S)
    return job


def report_progress(job: Job, *, done: int) -> None:
    """Record ``done`` of the job's total (an absolute position: a job run again counts the same), and
    the parent's progress as the sum of its children's."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(progress_done=done, heartbeat_at=now)
    if job.parent_id:
        total_done = Job.objects.filter(parent_id=job.parent_id).aggregate(done=Sum("progress_done"))["done"] or 0
        Job.objects.filter(pk=job.parent_id).update(
            progress_done=Least(total_done, F("progress_total")), heartbeat_at=now
        )


# ---------------------------------------------------------------------------
# Run and finish
# ---------------------------------------------------------------------------


def start_job(job_id: int, celery_task_id: str | None) -> Job | None:
    """Mark the job running; None if it is already finished (a duplicate delivery) or unknown."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job_id, state__in=UNFINISHED).update(
        state=Job.State.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now,
        attempts=F("attempts") + 1, **({"celery_task_id": celery_task_id} if celery_task_id else {}),
    )
    return Job.objects.get(pk=job_id) if updated else None


def finish_job(*, job_id: int, state: str, error: str = "", result: dict | None = None) -> None:
    """Record the end of a job (and complete its parent if it was the last child)."""
    now = timezone.now()
    fields: dict[str, Any] = {"state": state, "error": error[:5000], "finished_at": now, "heartbeat_at": now}
    if state == Job.State.SUCCEEDED:
        fields["progress_done"] = F("progress_total")
    if result is not None:
        fields["result"] = result
    Job.objects.filter(pk=job_id).update(**fields)
    parent_id = Job.objects.filter(pk=job_id).values_list("parent_id", flat=True).first()
    if parent_id:
        finish_parent_if_done(parent_id)


def finish_parent_if_done(parent_id: int) -> None:
    children = Job.objects.filter(parent_id=parent_id)
    if children.filter(state__in=UNFINISHED).exists():
        return
    totals: dict[str, int] = {}
    failed_chunks = []
    for child in children:
        for key, value in (child.result or {}).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        if child.state == Job.State.FAILED:
            failed_chunks.append(f"{child.target_label}: {child.error}")
    totals["spectra"] = sum(c.progress_total for c in children)
    error = ""
    state = Job.State.SUCCEEDED
    if failed_chunks:
        state = Job.State.FAILED
        error = f"{len(failed_chunks)} chunk(s) failed. " + " | ".join(failed_chunks)[:4000]
    Job.objects.filter(pk=parent_id, state__in=UNFINISHED).update(
        state=state, error=error, result=totals, finished_at=timezone.now(), heartbeat_at=timezone.now(),
        progress_done=F("progress_total"),
    )


def run_job(*, job_id: int, celery_task_id: str | None = None) -> Job | None:
    """Run a job by id: safe to call twice (a finished job is left alone).

    Engine and data problems (``JobError``, a target that no longer exists) end the
    job as failed with a readable reason; database and broker errors propagate so
    that the task retries them.
    """
    job = start_job(job_id, celery_task_id)
    if job is None:
        return None
    if job.attempts > MAX_ATTEMPTS:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
            f"Gave up after {MAX_ATTEMPTS} attempts: the job was started repeatedly without finishing "
            f"(worker killed or time limit reached)."
        ))
        return Job.objects.get(pk=job.pk)
    followup = None
    try:
        outcome = job_kind(job.kind).execute(job)
    except Deferred as exc:
        finish_job(job_id=job.pk, state=Job.State.CANCELLED, error=str(exc))
    except JobFailed as exc:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=str(exc), result=exc.result)
        followup = exc.followup
    except (JobError, ObjectDoesNotExist) as exc:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=_readable(exc, job))
    else:
        if outcome is not None:
            finish_job(job_id=job.pk, state=Job.State.SUCCEEDED, result=outcome.result)
            followup = outcome.followup
    if followup is not None:
        followup()
    return Job.objects.get(pk=job.pk)


def _readable(exc: Exception, job: Job) -> str:
    if isinstance(exc, JobError):
        return str(exc)
    what = type(exc).__name__.replace("DoesNotExist", "").lower() or "record"
    return f"The {what} this job refers to no longer exists ({job.target_type} {job.target_id})."


def fail_job(*, job_id: int, error: str) -> None:
    """Mark an unfinished job failed (time limit, retries exhausted, unexpected error)."""
    if Job.objects.filter(pk=job_id, state__in=UNFINISHED).exists():
        finish_job(job_id=job_id, state=Job.State.FAILED, error=error)


# ---------------------------------------------------------------------------
# Sweep: dead workers and lost messages
# ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def sweep_jobs(*, now: datetime.datetime | None = None) -> SweepReport:
    """Re-send jobs left running by a dead worker and queued jobs never picked up; fail them after the caps."""
    now = now or timezone.now()
    report = SweepReport()
    open_parents = Job.objects.filter(state__in=UNFINISHED, parent__isnull=False).values("parent_id")
    stale_running = Job.objects.filter(
        state=Job.State.RUNNING, heartbeat_at__lt=now - stale_running_after()
    ).exclude(pk__in=open_parents)
    for job in stale_running:
        with transaction.atomic():
            if job.attempts >= MAX_ATTEMPTS:
                finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
                    f"Gave up after {job.attempts} attempts: the worker running this job stopped answering "
                    f"(killed, out of memory, or past the hard time limit of "
                    f"{getattr(settings, 'CELERY_TASK_TIME_LIMIT', 360)} s; last heartbeat "
                    f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)."
                ))
                report.failed.append(job.pk)
                continue
            Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(state=Job.State.QUEUED)
            dispatch_job(job)
            report.requeued.append(job.pk)
    stale_queued = Job.objects.filter(state=Job.State.QUEUED).filter(
        Q(dispatched_at__lt=now - stale_queued_after()) | Q(dispatched_at__isnull=True, created_at__lt=now - stale_queued_after())
    )
    for job in stale_queued:
        with transaction.atomic():
            if job.dispatches >= MAX_DISPATCHES:
                finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
                    f"No worker picked this job up after {job.dispatches} dispatches; is a worker running?"
                ))
                report.failed.append(job.pk)
                continue
            dispatch_job(job)
            report.requeued.append(job.pk)
    return report
