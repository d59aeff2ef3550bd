"""Load: API reads, pages, exports and uploads against gunicorn on 127.0.0.1, at several client counts.

Bounded in time (``--duration`` per step) and in count (``--max-requests`` per step).
For each number of concurrent reading clients (``--clients 10,50``), runs the reads
while ``--upload-clients`` clients upload distinct small spectrum files, and prints
per category: requests, requests/s, p50/p95/p99 latency and errors (5xx must be 0), and the CPU time one
request took in the gunicorn workers, in PostgreSQL's backends and in this load client (read from /proc, so
the figure holds on a busy machine where the wall-clock rates do not): the cores divided by that total bound
the rate this mix can reach on this machine.

Uses the database DATABASE_URL names (PostgreSQL for the real figures; load the demo
data first with ``manage.py load_demo``): it reads ids from it and adds an API token,
a cell and the uploaded spectra (removed afterwards). Starts gunicorn itself on a
free port unless ``--url`` is given; uploads queue their analysis on the broker that
CELERY_BROKER_URL names (no worker is needed; queued jobs are removed afterwards). The API throttles count
in the cache CACHE_URL names; unset, in the broker's Redis as production does (docker-compose), since the
embedded default's file cache writes a file on every API request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch .venv/bin/python benchmarks/load.py \\
        [--clients 10,50] [--duration 30] [--workers 3] [--upload-clients 2] [--reads api,export,page]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, seconds: float, status: int | str) -> None:
        self.latencies_s.append(seconds)
        if not (isinstance(status, int) and status < 400):
            self.errors[str(status)] += 1

    def summary(self, elapsed_s: float) -> str:
        lat = sorted(self.latencies_s)
        if not lat:
            return "no requests"

        def pct(p):
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

        server_errors = sum(n for code, n in self.errors.items() if code.startswith("5"))
        return (f"{len(lat):6d} req {len(lat) / elapsed_s:7.1f} req/s  p50 {pct(50):6.0f} ms  p95 {pct(95):6.0f} ms  "
                f"p99 {pct(99):6.0f} ms  errors {dict(self.errors) or 0}  5xx {server_errors}")


@dataclass(frozen=True)
class Target:
    """Ids the requests use, read from the database before the run."""

    spectrum_ids: list[int]
    cell_ids: list[int]
    separator_ids: list[int]
    upload_cell_id: int
    token: str


def prepare() -> Target:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assbdb.settings")
    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from apps.accounts.services import create_api_token
    from apps.catalog.models import Cell, Separator
    from apps.measurements.models import ImpedanceSpectrum

    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.selectors import visible

    def seen(queryset, prefix=""):
        """Ids an anonymous visitor may see: the record and (for spectra) its cell."""
        queryset = visible(queryset, AnonymousUser())
        return list((visible(queryset, AnonymousUser(), prefix) if prefix else queryset).values_list("pk", flat=True)[:200])

    spectrum_ids = seen(ImpedanceSpectrum.objects.all(), "cell__")
    if not spectrum_ids:
        raise SystemExit("no public spectra: load the demo data first (manage.py load_demo)")
    cell = Cell.objects.filter(separator__isnull=False).select_related("group").first()
    member = cell.group.memberships.select_related("user").first().user
    upload_cell = Cell.objects.create(group=cell.group, name=f"load test {os.getpid()}", configuration=cell.configuration,
                                      separator=cell.separator, active_area_cm2=cell.active_area_cm2)
    return Target(
        spectrum_ids=spectrum_ids,
        cell_ids=seen(Cell.objects.all()),
        separator_ids=seen(Separator.objects.all()),
        upload_cell_id=upload_cell.pk,
        token=create_api_token(user=member, name=f"load test {os.getpid()}").key,
    )


def clean_up(target: Target) -> None:
    from apps.accounts.models import ApiToken
    from apps.catalog.models import Cell
    from apps.jobs.models import Job
    from apps.measurements.models import ImpedanceSpectrum, RawFile

    spectra = ImpedanceSpectrum.objects.filter(cell_id=target.upload_cell_id)
    Job.objects.filter(target_type="spectrum", target_id__in=spectra.values("pk")).delete()
    raw_ids = list(spectra.values_list("raw_file_id", flat=True))
    spectra.delete()
    RawFile.objects.filter(pk__in=[r for r in raw_ids if r]).delete()
    Cell.objects.filter(pk=target.upload_cell_id).delete()
    ApiToken.objects.filter(name=f"load test {os.getpid()}").delete()


READ_KINDS = ("api", "export", "page")


def read_requests(target: Target, kinds: tuple[str, ...] = READ_KINDS):
    """(category, path) pairs, cycled by the reading clients: mostly API reads, some pages and exports (only the
    categories in `kinds`)."""
    for category, path in _all_read_requests(target):
        if category in kinds:
            yield category, path


def _all_read_requests(target: Target):
    rng = random.Random(0)
    s, c, p = target.spectrum_ids, target.cell_ids or [0], target.separator_ids or [0]
    while True:
        spectrum = rng.choice(s)
        yield from [
            ("api", "/api/v1/spectra/?page_size=20"),
            ("api", f"/api/v1/spectra/{spectrum}/"),
            ("api", f"/api/v1/spectra/?cell={rng.choice(c)}&ordering=-measured_at"),
            ("api", f"/api/v1/cells/?search=LLZO"),
            ("api", f"/api/v1/separators/{rng.choice(p)}/"),
            ("api", "/api/v1/benchmark-entries/?metric=sigma_25c_total"),
            ("api", f"/api/v1/fits/?spectrum={spectrum}"),
            ("api", f"/api/v1/spectra/{rng.choice(s)}/"),
            ("export", f"/api/v1/spectra/{spectrum}/export/?format=csv"),
            ("page", "/"),
            ("page", "/spectra/?temperature_c_min=20"),
            ("page", f"/spectra/{spectrum}/"),
            ("page", "/benchmarks/leaderboard/sigma_25c_total/"),
        ]


def spectrum_file(number: int) -> bytes:
    """A distinct small spectrum (R0 + R1||C) as an f, Z', Z'' CSV: every upload is new, never a duplicate."""
    import numpy as np

    f = np.logspace(6, -1, 50)
    r0, r1, c1 = 100.0 + number * 1e-3, 1000.0, 1e-7
    z = r0 + r1 / (1 + 1j * 2 * np.pi * f * r1 * c1)
    rows = "\n".join(f"{a:.8g},{b.real:.8g},{b.imag:.8g}" for a, b in zip(f, z))
    return f"freq_hz,z_real_ohm,z_imag_ohm\n{rows}\n".encode()


async def run_step(base_url: str, target: Target, clients: int, upload_clients: int, duration_s: float,
                   max_requests: int, kinds: tuple[str, ...] = READ_KINDS) -> tuple[dict[str, Tally], float]:
    import httpx

    tallies: dict[str, Tally] = defaultdict(Tally)
    deadline = time.perf_counter() + duration_s
    budget = itertools.count()
    requests = read_requests(target, kinds)
    upload_numbers = itertools.count(int(time.time() * 1000) % 10**9)
    limits = httpx.Limits(max_connections=clients + upload_clients)

    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        async def reader():
            while time.perf_counter() < deadline and next(budget) < max_requests:
                category, path = next(requests)
                start = time.perf_counter()
                try:
                    response = await http.get(path)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                tallies[category].add(time.perf_counter() - start, status)

        async def uploader():
            headers = {"Authorization": f"Token {target.token}"}
            while time.perf_counter() < deadline and next(budget) < max_requests:
                number = next(upload_numbers)
                start = time.perf_counter()
                try:
                    response = await http.post(
                        "/api/v1/spectra/upload/", headers=headers, data={"cell": str(target.upload_cell_id)},
                        files={"file": (f"load-{number}.csv", io.BytesIO(spectrum_file(number)), "text/csv")},
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                tallies["upload"].add(time.perf_counter() - start, status)

        started = time.perf_counter()
        await asyncio.gather(*[reader() for _ in range(clients)], *[uploader() for _ in range(upload_clients)])
        return tallies, time.perf_counter() - started


def server_environment() -> dict[str, str]:
    """The server's environment: production settings on 127.0.0.1 without TLS, and API throttles far above the
    load (every client here is one address; the default 600 anonymous requests an hour would answer 429)."""
    return {
        "SECRET_KEY": "load-test-only-" + os.urandom(16).hex(), "API_THROTTLE_ANON": "100000000/hour",
        "API_THROTTLE_USER": "100000000/hour", **os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0", **shared_cache(),
    }


def shared_cache() -> dict[str, str]:
    """CACHE_URL as given, else the broker's Redis when the broker is Redis (production's shared cache)."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if "CACHE_URL" in os.environ or not broker.startswith(("redis://", "rediss://")):
        return {}
    return {"CACHE_URL": broker}


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time each process has used so far (processes that have ended are left out)."""
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: proc(5)
    return used


def cpu_used_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds used between two readings by the processes alive at the second (new ones from 0)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def server_pids(server: subprocess.Popen | None) -> list[int]:
    """The gunicorn master and its workers (none when serving from --url)."""
    if server is None:
        return []
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == server.pid:
                children.append(int(entry))
    return [server.pid, *children]


def database_backend_pids() -> list[int]:
    """PostgreSQL's processes serving this database, other than this script's own connection ([] elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def start_gunicorn(workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "assbdb.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=server_environment(), start_new_session=True,
    )
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code < 500:
                return server, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("gunicorn did not answer within 60 s")


def warm_up(base_url: str, target: Target, requests: int) -> None:
    """The mix's first reads, untimed: a worker's first requests import modules and compile templates."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=120) as http:
        for _category, path in itertools.islice(read_requests(target), requests):
            http.get(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (127.0.0.1 only); default: start gunicorn")
    parser.add_argument("--clients", default="10,50", help="comma-separated numbers of reading clients")
    parser.add_argument("--upload-clients", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30, help="seconds per step")
    parser.add_argument("--max-requests", type=int, default=50_000, help="requests per step at most")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--reads", default="api,export,page",
                        help="categories the reading clients send (e.g. api: API reads and uploads only)")
    args = parser.parse_args(argv)
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("load tests run against 127.0.0.1 only")

    kinds = tuple(args.reads.split(","))
    if not set(kinds) <= set(READ_KINDS):
        raise SystemExit("--reads: a comma-separated subset of api, export, page")
    target = prepare()
    server = None
    results = {}
    try:
        if args.url:
            base_url = args.url
        else:
            server, base_url = start_gunicorn(args.workers, args.threads)
        warm_up(base_url, target, requests=30 * args.workers * args.threads)
        load = os.getloadavg()[0]
        print(f"server {base_url} ({args.workers} gunicorn workers x {args.threads} threads), reads: {args.reads}, "
              f"{os.cpu_count()} CPUs, load average before: {load:.1f}", flush=True)
        for clients in [int(n) for n in args.clients.split(",")]:
            # Processes that end during a step are not counted (connections live DB_CONN_MAX_AGE, longer than one).
            before = (cpu_seconds(server_pids(server)), cpu_seconds(database_backend_pids()), time.process_time())
            tallies, elapsed = asyncio.run(run_step(base_url, target, clients, args.upload_clients, args.duration,
                                                    args.max_requests, kinds))
            used = (cpu_used_since(before[0], cpu_seconds(server_pids(server))),
                    cpu_used_since(before[1], cpu_seconds(database_backend_pids())),
                    time.process_time() - before[2])
            print(f"{clients} reading clients + {args.upload_clients} uploading, {elapsed:.1f} s, "
                  f"load average {os.getloadavg()[0]:.1f}:", flush=True)
            for category in ["api", "page", "export", "upload"]:
                if category in tallies:
                    print(f"  {category:7s}{tallies[category].summary(elapsed)}", flush=True)
            done = sum(len(t.latencies_s) for t in tallies.values())
            if done and server is not None:
                per_request_ms = [1000 * seconds / done for seconds in used]
                bound = os.cpu_count() * 1000 / sum(per_request_ms)
                api_share = len(tallies["api"].latencies_s) / done if "api" in tallies else 0
                print(f"  CPU per request (all kinds): gunicorn {per_request_ms[0]:.1f} ms, PostgreSQL "
                      f"{per_request_ms[1]:.1f} ms, load client {per_request_ms[2]:.1f} ms: {os.cpu_count()} idle "
                      f"cores fit {bound:.0f} requests/s of this mix, {bound * api_share:.0f} of them API reads",
                      flush=True)
            results[clients] = {category: tally for category, tally in tallies.items()}
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        clean_up(target)
    return results


if __name__ == "__main__":
    outcome = main()
    failed = any(code.startswith("5") for step in outcome.values() for t in step.values() for code in t.errors)
    sys.exit(1 if failed else 0)
