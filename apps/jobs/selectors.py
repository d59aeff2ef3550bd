"""Reads of the jobs app with a rule in them: is a worker alive, and what is waiting for one."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from .models import Job, WorkerHeartbeat


@dataclass(frozen=True)
class WorkerStatus:
    """The newest worker heartbeat and the queued jobs, as of ``now``."""

    now: datetime.datetime
    last_beat_at: datetime.datetime | None
    queued_jobs: int
    oldest_queued_at: datetime.datetime | None
    eager: bool  # jobs run in the request's process: no worker is needed

    @property
    def heartbeat_age_s(self) -> float | None:
        return None if self.last_beat_at is None else (self.now - self.last_beat_at).total_seconds()

    @property
    def oldest_queued_age_s(self) -> float | None:
        return None if self.oldest_queued_at is None else (self.now - self.oldest_queued_at).total_seconds()

    def worker_alive(self, *, within_s: float) -> bool:
        return self.eager or (self.heartbeat_age_s is not None and self.heartbeat_age_s <= within_s)

    @property
    def show_banner(self) -> bool:
        """No worker for ``WORKER_DOWN_BANNER_AFTER_S`` while jobs wait."""
        return self.queued_jobs > 0 and not self.worker_alive(within_s=settings.WORKER_DOWN_BANNER_AFTER_S)


def worker_status(*, now: datetime.datetime | None = None) -> WorkerStatus:
    queued = Job.objects.filter(state=Job.State.QUEUED).aggregate(n=Count("pk"), oldest=Min("created_at"))
    return WorkerStatus(
        now=now or timezone.now(),
        last_beat_at=WorkerHeartbeat.objects.aggregate(last=Max("beat_at"))["last"],
        queued_jobs=queued["n"],
        oldest_queued_at=queued["oldest"],
        eager=bool(current_app.conf.task_always_eager),
    )
