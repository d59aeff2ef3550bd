"""Soak: N analysis jobs through the real worker while the worker is SIGKILLed every few seconds.

The worker is the embedded one of ``manage.py run_site`` (Celery with beat, so the
job sweep runs inside it) under the same supervisor, which restarts it after
each kill. Prints jobs lost (analysis jobs not succeeded; must be 0), duplicated
results (more than one FitResult per spectrum and protocol; must be 0), spectra
without a fit, and the longest time a job orphaned by a kill waited after a
worker came back until it was sent again, and until it was started again (behind
the rest of the queue).

Scratch database and broker as in ``refit_throughput.py``: a temporary SQLite
file and filesystem broker (the embedded default) unless DATABASE_URL and
CELERY_BROKER_URL are given (PostgreSQL + Redis: scratch ones, they are migrated
and filled).

    .venv/bin/python benchmarks/soak.py [--jobs 200] [--kill-every 8] [--timeout SECONDS]

--timeout defaults to 300 s plus 1 s per job (a loaded 2-core machine, with the worker
down about half of the time between kills, finishes about 1 to 3 jobs a second); a
progress line (jobs done, jobs per second) is printed every --progress-every seconds.

"Every few seconds" counts from the moment the restarted worker beats for the first time.
    DATABASE_URL=postgres://…/scratch CELERY_BROKER_URL=redis://127.0.0.1:6379/12 .venv/bin/python benchmarks/soak.py
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.refit_throughput import configure_environment, create_spectra  # noqa: E402


def default_timeout_s(jobs: int) -> float:
    """Seconds allowed for ``jobs`` jobs unless --timeout is given: 300 s plus 1 s per job."""
    return 300.0 + 1.0 * jobs


def soak(*, jobs: int, kill_every_s: float, timeout_s: float, concurrency: int, scratch: Path,
         progress_every_s: float = 60.0) -> dict:
    from django.db.models import Count

    from apps.analysis.management.commands.run_site import worker_command
    from apps.analysis.models import FitResult
    from apps.analysis.services import queue_analysis
    from apps.jobs.models import Job, WorkerHeartbeat
    from apps.jobs.supervisor import Supervisor
    from apps.measurements.models import ImpedanceSpectrum

    cell = create_spectra(jobs)
    spectrum_ids = list(ImpedanceSpectrum.objects.filter(cell=cell).values_list("pk", flat=True))
    log = (scratch / "worker.log").open("w")
    exits: list[str] = []
    worker = Supervisor(worker_command(concurrency=concurrency, var_dir=scratch), cwd=ROOT, env=dict(os.environ),
                        backoff_s=(1,), output=log, stdout=log,
                        on_exit=lambda code, lines: exits.append(str(code)))
    _RUNNING["worker"] = worker
    worker.start()
    try:
        started = time.time()
        queue_analysis(spectrum_ids=spectrum_ids)
        # A subquery, not a list of thousands of ids: the loop below asks twice a second.
        analyses = Job.objects.filter(kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum",
                                      target_id__in=ImpedanceSpectrum.objects.filter(cell=cell).values("pk"))
        unfinished = analyses.exclude(state__in=[Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED])
        next_progress = started + progress_every_s
        kills, last_kill, timed_out = 0, started, True
        orphaned: dict[int, tuple[float, str]] = {}  # job id -> when its worker was killed, and that worker
        waits_s: list[float] = []
        resend_waits: dict[int, float] = {}
        while time.time() - started < timeout_s:
            now = time.time()
            if not unfinished.exists():
                timed_out = False
                break
            if now >= next_progress:
                done = jobs - unfinished.count()
                print(f"  {now - started:.0f} s: {done} of {jobs} jobs finished ({done / (now - started):.2f} jobs/s), "
                      f"{kills} kills", flush=True)
                next_progress += progress_every_s
            # Kill the worker once it has been up (beating) for kill_every_s: on a busy machine a
            # worker takes seconds to start, and killing it before then would test nothing.
            up_since = _worker_back_after(last_kill)
            if up_since is not None and now - up_since >= kill_every_s and worker.pid:
                running = dict(analyses.filter(state=Job.State.RUNNING).values_list("pk", "worker_id"))
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                    kills += 1
                    last_kill = now
                    for job_id, worker_id in running.items():
                        orphaned.setdefault(job_id, (now, worker_id))
                except ProcessLookupError:
                    pass
            if orphaned:
                # Taken back: sent again (or finished by the killed worker's last pool process); started
                # again: running under a live new worker, or finished.
                live = set(WorkerHeartbeat.objects.filter(beat_at__gte=_ago(15)).values_list("worker_id", flat=True))
                for job_id, state, worker_id, dispatched_at in analyses.filter(pk__in=list(orphaned)).values_list(
                        "pk", "state", "worker_id", "dispatched_at"):
                    killed_at, killed_worker = orphaned[job_id]
                    back = _worker_back_after(killed_at)
                    if back is None:
                        continue
                    if job_id not in resend_waits and (state != Job.State.RUNNING or (dispatched_at is not None and dispatched_at.timestamp() > killed_at)):
                        resend_waits[job_id] = max(0.0, now - back)
                    if state != Job.State.RUNNING or (worker_id in live and worker_id != killed_worker):
                        resend_waits.setdefault(job_id, max(0.0, now - back))
                        waits_s.append(max(0.0, now - back))
                        del orphaned[job_id]
            time.sleep(0.5)
        elapsed = time.time() - started
    finally:
        worker.stop()
        log.close()
    counts = dict(analyses.values_list("state").annotate(n=Count("pk")))
    duplicated = (FitResult.objects.filter(spectrum_id__in=spectrum_ids).values("spectrum_id", "protocol_id")
                  .annotate(n=Count("pk")).filter(n__gt=1).count())
    without_fit = ImpedanceSpectrum.objects.filter(pk__in=spectrum_ids).exclude(
        pk__in=FitResult.objects.values("spectrum_id")).count()
    return {
        "jobs": jobs, "seconds": round(elapsed, 1), "jobs_per_s": round(counts.get(Job.State.SUCCEEDED, 0) / elapsed, 2),
        "kills": kills, "worker_exits": len(exits),
        "succeeded": counts.get(Job.State.SUCCEEDED, 0), "failed": counts.get(Job.State.FAILED, 0),
        "lost": jobs - counts.get(Job.State.SUCCEEDED, 0), "duplicated_results": duplicated,
        # Of the lost: jobs still queued or running when --timeout ran out (slow, not necessarily lost).
        "timed_out": timed_out, "unfinished_at_end": counts.get(Job.State.QUEUED, 0) + counts.get(Job.State.RUNNING, 0),
        "spectra_without_fit": without_fit, "orphaned_jobs_taken_back": len(waits_s),
        "still_orphaned": len(orphaned),
        "longest_wait_to_resend_after_worker_back_s": round(max(resend_waits.values()), 1) if resend_waits else 0.0,
        "longest_wait_to_restart_after_worker_back_s": round(max(waits_s), 1) if waits_s else 0.0,
        "errors": list(Job.objects.filter(pk__in=analyses, state=Job.State.FAILED).values_list("error", flat=True)[:3]),
    }


def _ago(seconds: float):
    import datetime

    from django.utils import timezone

    return timezone.now() - datetime.timedelta(seconds=seconds)


def _worker_back_after(killed_at: float) -> float | None:
    """When (epoch seconds) the first worker started after ``killed_at`` came up; None if none has."""
    import datetime

    from apps.jobs.models import WorkerHeartbeat

    killed = datetime.datetime.fromtimestamp(killed_at, tz=datetime.timezone.utc)
    first = WorkerHeartbeat.objects.filter(started_at__gt=killed).order_by("started_at").first()
    return None if first is None else first.started_at.timestamp()


#: What a signal must clean up: the supervised worker (in a session of its own, so it outlives this process
#: otherwise) and the scratch folder of a SQLite run.
_RUNNING: dict = {}


def _stop_on_signal(signum, frame):
    """Stop the worker and remove the scratch folder here, not by raising KeyboardInterrupt (which is lost
    when it lands in a finalizer or a library that swallows it), then leave."""
    worker = _RUNNING.get("worker")
    if worker is not None:
        worker.stop(timeout=10)
    scratch = _RUNNING.get("scratch")
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"stopped by signal {signal.Signals(signum).name}", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--kill-every", type=float, default=8.0, help="seconds between SIGKILLs of the worker")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed for the whole queue (default: 300 s plus 1 s per job)")
    parser.add_argument("--progress-every", type=float, default=60.0, help="seconds between progress lines")
    args = parser.parse_args(argv)
    timeout_s = args.timeout if args.timeout is not None else default_timeout_s(args.jobs)

    # SIGTERM or SIGINT (which a shell ignores in background jobs unless it is set here) stop the worker too.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    scratch = Path(tempfile.mkdtemp(prefix="assbdb-soak-"))
    configure_environment(scratch)
    _RUNNING["scratch"] = scratch  # the SQLite file, broker folder, beat schedule and worker log: all scratch
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0, stdout=io.StringIO())
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        print(f"database: {database}, broker: {broker}, {args.jobs} jobs, worker SIGKILLed every {args.kill_every} s, "
              f"time limit {timeout_s:.0f} s", flush=True)
        report = soak(jobs=args.jobs, kill_every_s=args.kill_every, timeout_s=timeout_s,
                      concurrency=args.concurrency, scratch=scratch, progress_every_s=args.progress_every)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for key, value in report.items():
        print(f"{key}: {value}", flush=True)
    return report


if __name__ == "__main__":
    outcome = main()
    sys.exit(0 if outcome["lost"] == 0 and outcome["duplicated_results"] == 0 else 1)
