"""Celery tasks: a thin wrapper that takes a Job id and runs it through ``services.run_job``, and the sweep.

Every task is idempotent (a finished job is left alone, rows are written
with update_or_create), acknowledged late and rejected when its worker is
lost, so a killed worker's job is delivered again; transient database and
broker errors are retried with exponential backoff; anything else ends the
job as failed with a readable reason, never retried forever.
"""
from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from . import services
from .worker import current_worker_id

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)
MAX_RETRIES = 3


class JobTask(Task):
    """Fails the job when Celery gives up on it (retries exhausted)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id is None:
            return
        try:
            # The exception's kind only: a database error's text may quote row values (names of records
            # the job's viewers may not see); the worker's log has the whole of it.
            services.fail_job(job_id=job_id, error=(
                f"Stopped after {MAX_RETRIES} retries of a transient error ({type(exc).__name__}); "
                f"the worker's log has the details."
            ))
        except Exception:  # the database itself may be what is failing; the sweep will catch the job later
            logger.exception("could not mark job %s failed", job_id)


JOB_TASK_OPTIONS = dict(
    base=JobTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)


def _run(task: Task, job_id: int) -> None:
    try:
        services.run_job(job_id=job_id, celery_task_id=task.request.id, worker_id=current_worker_id())
    except SoftTimeLimitExceeded:
        services.fail_job(
            job_id=job_id,
            error=f"Stopped at the time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s.",
        )
    except TRANSIENT_ERRORS:
        raise  # autoretry with backoff
    except Exception as exc:  # a bug, not bad luck: record it, do not retry
        logger.exception("job %s failed", job_id)
        # Not the exception's text: it may name records (a separator, a cell) that people who see this
        # job may not see. The log above has it whole.
        services.fail_job(job_id=job_id, error=(
            f"Internal error ({type(exc).__name__}) in job {job_id}; the worker's log has the details."
        ))


@shared_task(name=services.RUN_JOB_TASK, **JOB_TASK_OPTIONS)
def run_job(self, job_id: int) -> None:
    """Run one Job row by id, whatever its kind (the registered executor does the work)."""
    _run(self, job_id)


@shared_task(
    name="jobs.sweep_jobs", acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=2,
    ignore_result=True,
)
def sweep_jobs() -> dict:
    """Periodic: re-queue jobs of dead workers and lost messages; fail them after the caps."""
    report = services.sweep_jobs(backlog=services.broker_backlog())
    if report.requeued or report.failed:
        logger.info("job sweep: re-queued %s, failed %s", report.requeued, report.failed)
    return {"requeued": report.requeued, "failed": report.failed}
