"""Re-fit throughput: spectra per second with 1 and with 2 Celery worker processes.

Creates N synthetic spectra (default 1 000) in a scratch database, then
fits all of them under a standard protocol through the real job system
(``services.refit_protocol``: one parent job fanned out in chunks) with a
real ``celery worker`` subprocess, once per worker count ("first fit": no
fit of them exists yet), then makes a new version of the protocol and
re-fits them under it the same way ("new version": each spectrum has its fit
under the previous version, which the re-fit starts from). Prints spectra
per second for each run and the CPU time the worker's processes used per
spectrum (read from /proc; robust when other jobs share the machine), then
waits for the run's follow-ups (Arrhenius fit, benchmark entries) and prints
their time apart, so that the next run does not inherit them.

Scratch database: a temporary SQLite file unless DATABASE_URL is given (then
that database is used and must be a scratch one: the script migrates it and
adds rows). Broker: the filesystem transport in a temporary folder unless
CELERY_BROKER_URL is given (e.g. redis://127.0.0.1:6379/13).

    .venv/bin/python benchmarks/refit_throughput.py [--spectra 1000] [--workers 1,2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure_environment(scratch: Path) -> None:
    """Point Django at the scratch database and broker before django.setup()."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'refit.sqlite3'}")
    if not os.environ.get("CELERY_BROKER_URL"):
        os.environ["CELERY_BROKER_URL"] = "filesystem://"
        os.environ["BROKER_DIR"] = str(scratch / "broker")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"


def create_spectra(n: int):
    """n noisy spectra of 0.8 mm garnet pellets whose bulk arc lies beyond 1 MHz, resistances spread over a decade."""
    import numpy as np

    from apps.accounts.models import ResearchGroup
    from apps.analysis.eis.circuits import circuit_impedance
    from apps.catalog.models import Cell, Separator
    from apps.measurements.grids import share_frequency_grids
    from apps.measurements.models import ImpedanceSpectrum

    group, _ = ResearchGroup.objects.get_or_create(slug="refit-benchmark", defaults={"name": "Re-fit benchmark"})
    separator = Separator.objects.create(group=group, name="benchmark pellet", thickness_um=800.0, area_cm2=0.785)
    cell = Cell.objects.create(group=group, name="benchmark cell", configuration="blocking", separator=separator,
                               active_area_cm2=0.785)
    rng = np.random.default_rng(0)
    f = np.logspace(6, -1, 57)
    rows = []
    for i in range(n):
        r1 = float(rng.uniform(1000, 10000))
        truth = {
            "R0": r1 * float(rng.uniform(0.2, 0.6)), "R1": r1, "CPE1_Q": 5e-9,
            "CPE1_n": float(rng.uniform(0.8, 0.9)), "CPE2_Q": 2e-6, "CPE2_n": 0.8,
        }
        z = circuit_impedance("R0-p(R1,CPE1)-CPE2", truth, f)
        z = z + 0.002 * np.abs(z) * (rng.normal(size=f.size) + 1j * rng.normal(size=f.size))
        spectrum = ImpedanceSpectrum(cell=cell, group=group, label=f"benchmark {i}", temperature_c=25.0)
        spectrum.set_arrays(f, z)
        rows.append(spectrum)
    share_frequency_grids(rows)  # as the services store spectra
    ImpedanceSpectrum.objects.bulk_create(rows, batch_size=500)
    return cell


def start_worker(concurrency: int, log: Path) -> subprocess.Popen:
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    worker = subprocess.Popen(
        [celery, "-A", "assbdb", "worker", f"--concurrency={concurrency}", "--loglevel=INFO", "--without-mingle",
         "--without-gossip", "-n", f"refit-bench-{concurrency}-{os.getpid()}@%h"],
        cwd=ROOT, env=dict(os.environ), stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log.read_text(errors="replace"):
            return worker
        if worker.poll() is not None:
            break
        time.sleep(0.2)
    stop_worker(worker)
    raise SystemExit(f"worker did not start; see {log}:\n{log.read_text(errors='replace')[-2000:]}")


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def worker_cpu_s(worker: subprocess.Popen) -> float:
    """CPU seconds (user + system) used so far by the worker's processes (its session: the main process and
    its pool), read from /proc: robust when other jobs share the machine, unlike wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[3]) == worker.pid:  # session id (the worker is started in its own session)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def refit(protocol, n: int, concurrency: int, log: Path, timeout_s: float) -> tuple[float, float, float, float]:
    """Seconds for one re-fit of every spectrum under ``protocol`` with ``concurrency`` worker processes and
    the CPU seconds the worker's processes used meanwhile; then the same two for its follow-ups."""
    from apps.analysis import services
    from apps.analysis.models import FitResult
    from apps.jobs.models import Job

    FitResult.objects.filter(protocol=protocol).delete()  # every run does the same work: a first fit
    worker = start_worker(concurrency, log)
    try:
        cpu_start = worker_cpu_s(worker)
        start = time.perf_counter()
        job = services.refit_protocol(protocol=protocol)
        deadline = time.monotonic() + timeout_s
        next_report = 0.25
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.progress_total > 1 and job.progress_done / job.progress_total >= next_report:
                print(f"  re-fit {job.progress_done}/{job.progress_total} spectra "
                      f"({time.perf_counter() - start:.1f} s)", flush=True)
                next_report += 0.25
            if job.is_finished:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        cpu_s = worker_cpu_s(worker) - cpu_start
        if job.state != Job.State.SUCCEEDED:
            raise SystemExit(f"re-fit ended {job.state} after {elapsed:.0f} s: {job.error or 'timeout'}; log {log}")
        fitted = FitResult.objects.filter(protocol=protocol, status="succeeded").count()
        if fitted != n:
            raise SystemExit(f"expected {n} succeeded fits, found {fitted} ({job.result})")
        followups_s, followups_cpu_s = wait_for_followups(worker, since=job.created_at, timeout_s=timeout_s)
        return elapsed, cpu_s, followups_s, followups_cpu_s - cpu_s - cpu_start
    finally:
        stop_worker(worker)


def wait_for_followups(worker: subprocess.Popen, *, since, timeout_s: float) -> tuple[float, float]:
    """Wait until the re-fit's follow-ups (Arrhenius fit, then the benchmark entries) are done, so that the
    next run's worker does not inherit them; (seconds waited, worker CPU seconds so far)."""
    from apps.jobs.models import Job
    from apps.jobs.services import UNFINISHED

    kinds = [Job.Kind.CHOOSE_SERIES_MODEL, Job.Kind.FIT_ARRHENIUS, Job.Kind.RECOMPUTE_BENCHMARKS]
    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # The last chunk queues them just after the parent finishes: wait for the benchmarks to be recomputed.
        done = Job.objects.filter(kind=Job.Kind.RECOMPUTE_BENCHMARKS, created_at__gte=since,
                                  state=Job.State.SUCCEEDED).exists()
        if done and not Job.objects.filter(kind__in=kinds, state__in=UNFINISHED).exists():
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"the re-fit's follow-ups did not finish within {timeout_s:.0f} s")
    return time.perf_counter() - start, worker_cpu_s(worker)


def new_version(protocol):
    """A new version of ``protocol`` with the same fit settings (a wording change), made by a staff user."""
    from django.contrib.auth import get_user_model

    from apps.analysis import services

    staff, _ = get_user_model().objects.get_or_create(
        username="refit-benchmark", defaults={"is_staff": True, "is_superuser": True}
    )
    return services.create_protocol_version(base=protocol, user=staff, refit=False,
                                            description=f"{protocol.description} (re-fit benchmark)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker process counts")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per run")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="assbdb-refit-"))
    configure_environment(scratch)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from apps.analysis import protocols, services
    from apps.analysis.jobs import REFIT_CHUNK_SIZE

    call_command("migrate", verbosity=0)
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://")[0]
    print(f"database: {database}, broker: {broker}, chunk: {REFIT_CHUNK_SIZE} spectra per task")
    t = time.perf_counter()
    create_spectra(args.spectra)
    print(f"created {args.spectra} synthetic spectra in {time.perf_counter() - t:.1f} s")
    protocol = services.latest_standard_protocol(protocols.BLOCKING_PELLET_BULK_BEYOND)
    try:
        # First the spectra's first fit under the protocol in force, then the re-fit under a new version of it
        # (what `refit --all` does after a protocol change: each spectrum has its fit under the previous version).
        for scenario in ("first fit", "new version"):
            if scenario == "new version":
                protocol = new_version(protocol)
            print(f"{scenario}: {protocol}")
            for concurrency in [int(w) for w in args.workers.split(",")]:
                elapsed, cpu_s, followups_s, followups_cpu_s = refit(
                    protocol, args.spectra, concurrency, scratch / f"worker-{scenario[0]}{concurrency}.log",
                    args.timeout)
                noun = "process" if concurrency == 1 else "processes"
                print(f"  {concurrency} worker {noun}: {args.spectra} spectra in {elapsed:.1f} s = "
                      f"{args.spectra / elapsed:.1f} spectra/s; worker CPU {1000 * cpu_s / args.spectra:.1f} ms "
                      f"per spectrum (load average {os.getloadavg()[0]:.1f}); then its follow-ups (Arrhenius, "
                      f"benchmark entries) {followups_s:.1f} s, worker CPU "
                      f"{1000 * followups_cpu_s / args.spectra:.1f} ms per spectrum", flush=True)
    finally:
        if "refit.sqlite3" in os.environ["DATABASE_URL"]:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
