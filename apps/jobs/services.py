"""Every write of the jobs app: creating, dispatching, running, finishing and sweeping Job rows.

A job is created (``new_job``), sent to the broker once the transaction
commits (``dispatch_job``), run by a worker (``run_job``: the registered
executor of its kind, see ``registry.py``), and finished once
(``finish_job``); a parent finishes when its last child does. Follow-ups are
debounced with ``ensure_queued`` (at most one queued job of a kind per
target). The periodic ``sweep_jobs`` re-sends jobs of dead workers and lost
messages and fails them after the caps.

The Job table is also the outbox: a job whose message could not be sent (broker
down) stays queued with no ``dispatched_at``, the request that made it still
succeeds, and the sweep sends it once the broker answers again.
"""
from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from kombu.exceptions import KombuError

from .models import Job, WorkerHeartbeat
from .registry import Deferred, JobError, JobFailed, job_kind

#: A job started this many times without finishing (worker killed, time limit) is failed.
MAX_ATTEMPTS = 5
#: A queued job sent this many times and never started is failed.
MAX_DISPATCHES = 5
#: Seconds a follow-up (Arrhenius, benchmarks) waits, so one upload's spectra are grouped.
FOLLOWUP_DELAY_S = 3
#: The Celery task that runs any job (``tasks.run_job``).
RUN_JOB_TASK = "jobs.run_job"

#: What a broker that is down or unreachable raises when a message is published.
BROKER_ERRORS = (KombuError, OSError)

logger = logging.getLogger(__name__)

UNFINISHED = (Job.State.QUEUED, Job.State.RUNNING)
FINISHED = (Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED)


def stale_running_after() -> datetime.timedelta:
    """A running job whose own heartbeat is older than this lost its worker (past the hard time limit)."""
    return datetime.timedelta(seconds=settings.JOBS_RUNNING_STALE_S)


def stale_queued_after() -> datetime.timedelta:
    """A queued job sent this long ago and never started lost its message (if the broker's queue is empty)."""
    return datetime.timedelta(seconds=settings.JOBS_RESEND_QUEUED_AFTER_S)


def stale_worker_after() -> datetime.timedelta:
    """A worker whose heartbeat is older than this is dead."""
    return datetime.timedelta(seconds=settings.WORKER_STALE_AFTER_S)


# ---------------------------------------------------------------------------
# Creation and dispatch
# ---------------------------------------------------------------------------


def dispatch_job(job: Job, *, countdown: float | None = None) -> None:
    """Send the job to the broker once the current transaction commits.

    A broker that is down does not fail the caller: the job stays queued, marked
    undispatched, for the sweep to send (the outbox).
    """
    # By name: the task module imports this one (registered when the app is ready, see apps.py).
    run_job_task = current_app.tasks[RUN_JOB_TASK]
    task_id = str(uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(
        celery_task_id=task_id, dispatched_at=timezone.now(), dispatches=F("dispatches") + 1
    )
    job.celery_task_id = task_id
    job_id = job.pk

    def send() -> None:
        try:
            run_job_task.apply_async(args=[job_id], task_id=task_id, countdown=countdown, retry=False)
        except BROKER_ERRORS as exc:
            Job.objects.filter(pk=job_id, celery_task_id=task_id, state=Job.State.QUEUED).update(
                dispatched_at=None, dispatches=Greatest(F("dispatches") - 1, 0)
            )
            logger.warning("job %s not sent, the broker is unreachable (%s: %s); the sweep will send it",
                           job_id, type(exc).__name__, exc)

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


def start_job(job_id: int, celery_task_id: str | None, *, worker_id: str = "") -> Job | None:
    """Mark the job running; None if it is already finished (a duplicate delivery) or unknown.

    A job running under another live worker is left to it (a message delivered twice).
    """
    now = timezone.now()
    live_workers = WorkerHeartbeat.objects.filter(beat_at__gte=now - stale_worker_after()).exclude(
        worker_id=worker_id).values("worker_id")
    updated = Job.objects.filter(pk=job_id, state__in=UNFINISHED).exclude(
        state=Job.State.RUNNING, worker_id__in=live_workers, heartbeat_at__gte=now - stale_running_after()
    ).update(
        state=Job.State.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now,
        attempts=F("attempts") + 1, worker_id=worker_id,
        **({"celery_task_id": celery_task_id} if celery_task_id else {}),
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
            # By job id, not label: a chunk's label counts spectra of the whole group, private ones included.
            failed_chunks.append(f"job {child.pk}: {child.error}")
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


def run_job(*, job_id: int, celery_task_id: str | None = None, worker_id: str = "") -> Job | None:
    """Run a job by id: safe to call twice (a finished job is left alone).

    Engine and data problems (``JobError``, a target that no longer exists) end the
    job as failed with a readable reason; database and broker errors propagate so
    that the task retries them.
    """
    job = start_job(job_id, celery_task_id, worker_id=worker_id)
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


def sweep_jobs(*, now: datetime.datetime | None = None, backlog: int | None = 0) -> SweepReport:
    """Take back running jobs of dead workers, send queued jobs that were never sent (broker down) or whose
    message was lost; fail them after the caps.

    A running job is orphaned when the worker that started it stopped beating (``WORKER_STALE_AFTER_S``),
    or, for a job of an unknown worker, when its own heartbeat is older than ``JOBS_RUNNING_STALE_S``.
    A queued job sent more than ``JOBS_RESEND_QUEUED_AFTER_S`` ago is sent again only when the broker's
    queue is empty (``backlog`` 0): in a long queue its message is merely waiting its turn.
    ``backlog`` None means the broker could not be asked; nothing already sent is re-sent then.
    """
    now = now or timezone.now()
    report = SweepReport()
    open_parents = Job.objects.filter(state__in=UNFINISHED, parent__isnull=False).values("parent_id")
    dead_workers = WorkerHeartbeat.objects.filter(beat_at__lt=now - stale_worker_after()).values("worker_id")
    # A worker beats before it takes a job; one never seen beating (its first beat failed) gets the same grace.
    unknown_worker = ~Q(worker_id="") & ~Q(worker_id__in=WorkerHeartbeat.objects.values("worker_id")) & Q(
        heartbeat_at__lt=now - stale_worker_after())
    orphaned = Q(heartbeat_at__lt=now - stale_running_after()) | Q(worker_id__in=dead_workers) | unknown_worker
    stale_running = Job.objects.filter(orphaned, state=Job.State.RUNNING).exclude(pk__in=open_parents)
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
            if Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(state=Job.State.QUEUED):
                dispatch_job(job)
                report.requeued.append(job.pk)
    never_sent = Q(dispatched_at__isnull=True)
    lost = Q(dispatched_at__lt=now - stale_queued_after()) if backlog == 0 else Q(pk__in=[])
    for job in Job.objects.filter(never_sent | lost, state=Job.State.QUEUED):
        with transaction.atomic():
            if job.dispatched_at is not None and job.dispatches >= MAX_DISPATCHES:
                finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
                    f"No worker picked this job up after {job.dispatches} dispatches; is a worker running?"
                ))
                report.failed.append(job.pk)
                continue
            dispatch_job(job)
            report.requeued.append(job.pk)
    WorkerHeartbeat.objects.filter(beat_at__lt=now - datetime.timedelta(days=1)).delete()
    return report


def broker_backlog() -> int | None:
    """Messages waiting in the broker's default queue; None when the broker cannot be asked (0 when eager)."""
    if current_app.conf.task_always_eager:
        return 0
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
            declared = connection.default_channel.queue_declare(
                queue=current_app.conf.task_default_queue
            )
            return declared.message_count
    except BROKER_ERRORS as exc:
        logger.warning("cannot ask the broker for its backlog (%s: %s)", type(exc).__name__, exc)
        return None


# ---------------------------------------------------------------------------
# Worker heartbeats
# ---------------------------------------------------------------------------


def record_worker_heartbeat(*, worker_id: str, hostname: str, pid: int, started_at: datetime.datetime) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": hostname, "pid": pid, "started_at": started_at, "beat_at": timezone.now()},
    )


def forget_dead_workers(*, hostname: str, worker_id: str, pid_alive) -> list[str]:
    """Mark dead the earlier workers of this host whose process is gone (``pid_alive(pid)`` False), so
    the sweep takes their jobs back at once instead of after ``WORKER_STALE_AFTER_S``."""
    dead = [
        other for other, pid in WorkerHeartbeat.objects.filter(hostname=hostname).exclude(worker_id=worker_id)
        .filter(beat_at__gte=timezone.now() - stale_worker_after()).values_list("worker_id", "pid")
        if not pid_alive(pid)
    ]
    WorkerHeartbeat.objects.filter(worker_id__in=dead).update(beat_at=timezone.now() - stale_worker_after() * 2)
    return dead
