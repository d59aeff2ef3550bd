"""The worker's sign of life: an identity per worker process and a heartbeat row it refreshes.

``WorkerHeartbeatStep`` is a Celery worker bootstep (added in ``assbdb/celery.py``):
when the worker starts it takes an id naming host, pid and start time (inherited
by its pool processes, so ``run_job`` records which worker runs a job) and
writes ``WorkerHeartbeat.beat_at`` every ``WORKER_HEARTBEAT_INTERVAL_S`` from
the worker's timer. The sweep takes back running jobs whose worker went silent;
``/healthz`` and the page banner read the newest beat.
"""
from __future__ import annotations

import logging
import os

from celery import bootsteps
from celery.signals import worker_ready

logger = logging.getLogger(__name__)

#: Set in the worker's main process before its pool forks; "" outside a worker (web, tests, eager runs).
_worker_id = ""


def current_worker_id() -> str:
    return _worker_id


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that pid
        return True
    return True


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        global _worker_id
        from django.utils import timezone

        self.started_at = timezone.now()
        self.hostname = worker.hostname
        _worker_id = f"{worker.hostname}/{os.getpid()}/{self.started_at:%Y%m%dT%H%M%S.%f}"
        self.timer_entry = None
        super().__init__(worker, **kwargs)

    def start(self, worker):
        # The first beat when the worker is ready to take messages: a worker counts as alive from then on.
        self.worker = worker
        worker_ready.connect(self.on_ready, weak=False)

    def on_ready(self, sender=None, **kwargs):
        from django.conf import settings

        self.beat()
        self.take_back_from_dead_predecessors(self.worker)
        self.timer_entry = self.worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_INTERVAL_S, self.beat)

    def take_back_from_dead_predecessors(self, worker) -> None:
        """A worker restarted after a crash (the embedded one under ``run_site``) sweeps at once: the jobs
        of its dead predecessor on this host go back to the queue now, not a sweep interval later (a
        crash-looping worker may never live long enough for beat's first sweep)."""
        from .services import broker_backlog, forget_dead_workers, sweep_jobs

        try:
            dead = forget_dead_workers(hostname=self.hostname, worker_id=_worker_id, pid_alive=_pid_alive)
            if dead:
                logger.warning("Workers %s of this host are gone; their jobs are taken back.", ", ".join(dead))
                # Here, not as a task: a sweep message would wait behind the whole queue.
                report = sweep_jobs(backlog=broker_backlog())
                logger.info("sweep at start: re-queued %s, failed %s", report.requeued, report.failed)
        except Exception:
            logger.warning("could not sweep at start (the periodic sweep will)", exc_info=True)

    def stop(self, worker):
        worker_ready.disconnect(self.on_ready)
        if self.timer_entry is not None:
            self.timer_entry.cancel()

    def beat(self) -> None:
        from django.db import close_old_connections

        from .services import record_worker_heartbeat

        try:
            close_old_connections()
            record_worker_heartbeat(worker_id=_worker_id, hostname=self.hostname, pid=os.getpid(),
                                    started_at=self.started_at)
        except Exception:  # a busy or unreachable database: the next beat tries again
            logger.warning("could not record the worker heartbeat", exc_info=True)
