"""A real Celery worker process on the real broker survives being SIGKILLed part way.

Runs only with a Redis broker and PostgreSQL (CI's second pass):
  DATABASE_URL=postgres://… CELERY_BROKER_URL=redis://… pytest -m worker
The worker subprocess is pointed at the *test* database.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.analysis import services
from apps.jobs import services as job_services
from apps.analysis.models import FitResult, FitStatus
from apps.jobs.models import Job
from tests.analysis.synthetic import PELLET, PELLET_TRUTH, set_spectrum, spectrum_arrays
from tests.factories import CellFactory, MembershipFactory, SpectrumFactory
from tests.processes import database_url_for_processes

N_FITS = 50
WAIT_S = 120

# Committed rows (the worker reads them over its own connection). The test re-installs the standard protocols
# (`standard_protocols`): an earlier committed test's flush may have emptied them. No serialized rollback: it
# re-inserts content types by their first ids, which clash with those an earlier flush re-created.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _skip_reason() -> str | None:
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        return "needs CELERY_BROKER_URL=redis://… (the real-worker test runs in CI's PostgreSQL + Redis pass)"
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs DATABASE_URL=postgres://… (a worker process cannot share the in-memory SQLite test database)"
    return None


def _start_worker(log: Path) -> subprocess.Popen:
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_processes(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    return subprocess.Popen(
        [celery, "-A", "assbdb", "worker", "--concurrency=2", "--loglevel=INFO", "--without-mingle",
         "--without-gossip", "-n", f"killtest-{os.getpid()}@%h"],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _kill(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool children, no warm shutdown
        worker.wait(timeout=30)


def _wait_for(condition, what: str, log: Path, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n--- worker log ---\n{tail}")


def _settle(unfinished, log: Path, quiet_s: float = 3.0) -> None:
    """Wait (bounded) until the worker stops making progress: nothing left, or no change for quiet_s."""
    deadline = time.monotonic() + WAIT_S
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        count = unfinished.count()
        if count == 0:
            return
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)


def test_every_fit_succeeds_exactly_once_after_the_worker_is_killed(settings, tmp_path, celery_conf,
                                                                    standard_protocols):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from assbdb.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_conf(task_always_eager=False)  # on the Celery app itself: an earlier test may have left it eager
    app.control.purge()  # messages left by an earlier run point at rows of another test database
    log = tmp_path / "worker.log"

    user = MembershipFactory().user
    cell = CellFactory(group=user.memberships.get().group)
    spectra = []
    for i in range(N_FITS):
        f, z = spectrum_arrays(PELLET, PELLET_TRUTH, n=2000, noise=0.002, seed=i)  # slow enough to be killed mid-queue
        spectra.append(set_spectrum(SpectrumFactory(cell=cell, group=cell.group), f, z))

    # Every job is queued before the worker starts, so the kill lands early in the queue however fast
    # one fit is (the engine stops its search on evidence: a fit can take a few ms).
    jobs = [services.request_fit(spectrum=s, user=user) for s in spectra]
    fit_jobs = Job.objects.filter(pk__in=[j.pk for j in jobs])
    worker = _start_worker(log)
    try:
        _wait_for(lambda: fit_jobs.filter(state=Job.State.SUCCEEDED).count() >= 2, "the first fits", log)
        _kill(worker)
        done_at_kill = fit_jobs.filter(state=Job.State.SUCCEEDED).count()
        held_at_kill = list(fit_jobs.filter(state=Job.State.RUNNING).values_list("pk", flat=True))
        assert done_at_kill < N_FITS, "every fit finished before the kill; the test needs slower fits"

        worker = _start_worker(log)
        # The killed worker's unacknowledged messages come back only after the broker's visibility
        # timeout; the periodic sweep is what re-queues their jobs. Run it as if that time had passed.
        later = timezone.now() + max(job_services.stale_running_after(), job_services.stale_queued_after())
        unfinished = fit_jobs.exclude(state__in=job_services.FINISHED)
        _settle(unfinished, log)
        for _ in range(3):
            if not unfinished.exists():
                break
            job_services.sweep_jobs(now=later)
            _settle(unfinished, log)
        assert not unfinished.exists(), f"{unfinished.count()} fits never finished\n{log.read_text()[-3000:]}"
    finally:
        _kill(worker)

    assert set(fit_jobs.values_list("state", flat=True)) == {Job.State.SUCCEEDED}
    fits = FitResult.objects.filter(spectrum__in=spectra)
    assert fits.count() == N_FITS
    assert fits.filter(status=FitStatus.SUCCEEDED).count() == N_FITS
    assert sorted(fits.values_list("spectrum_id", flat=True)) == sorted(s.pk for s in spectra)
    # The jobs the killed worker was running were sent again, not lost. (The kill may also land
    # between two tasks, with nothing in flight: then there is nothing to re-send.)
    assert all(n >= 2 for n in Job.objects.filter(pk__in=held_at_kill).values_list("dispatches", flat=True))
