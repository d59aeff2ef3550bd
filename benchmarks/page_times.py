"""Server time of every page at the demo size: loads the demo (analysed) into a scratch database,
requests each page as the demo user through Django's test client and prints milliseconds per page.

Server time is the time the client call takes in-process (URL resolution, middleware, queries,
template rendering), without network or browser. Each URL is requested once to warm caches (the DRT
cache, template loading), then `--repeat` times. Per kind of page, p50 and p95 are over every request of
every URL of that kind; the URL with the slowest median is named. "cpu p50" is the CPU time of this process
alone: on a machine shared with other work it stays near what an idle machine would show when wall time
does not (it leaves out the PostgreSQL server's own work, which SQLite does in-process). Detail pages are measured for every
record of their kind (spectra: the first `--spectra`); the hand-fit preview is a POST (a fit runs in it).

Scratch database: a temporary SQLite file unless DATABASE_URL is given (it must be a scratch one; the
demo loader is idempotent, so a kept database is reused). MEDIA_ROOT and CACHE_URL likewise.
The exit status is 1 when a page's median is over `--budget-ms`.

    .venv/bin/python benchmarks/page_times.py [--repeat 3] [--spectra 30] [--budget-ms 300] [--only compare]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch> .venv/bin/python benchmarks/page_times.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure_environment(scratch: Path) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'pages.sqlite3'}")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("MEDIA_ROOT", str(scratch / "media"))
    os.environ.setdefault("CACHE_URL", f"filecache://{scratch / 'cache'}")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"


def page_groups(spectra_limit: int) -> dict[str, list[str]]:
    """Page kind → URLs: every page of the site (lists, forms, every detail page of the demo, spectra: the
    first few; compare pages of each kind over up to six records; the dashboard and every leaderboard)."""
    from apps.benchmarks.models import BenchmarkEntry, Metric
    from apps.catalog.models import Cell, Interface, Material, Separator
    from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum
    from apps.releases.models import Release

    def pks(model) -> list[int]:
        return list(model.objects.order_by("pk").values_list("pk", flat=True))

    def compare(kind: str, ids: list[int]) -> list[str]:
        return ["/compare/?kind=" + kind + "".join(f"&ids={pk}" for pk in ids[:6])] if len(ids) >= 2 else []

    spectra = pks(ImpedanceSpectrum)[:spectra_limit]
    separators, cells, interfaces = pks(Separator), pks(Cell), pks(Interface)
    return {
        "home": ["/"],
        "search": ["/search/?q=Li"],
        "separator list": ["/separators/"],
        "cell list": ["/cells/"],
        "interface list": ["/interfaces/"],
        "spectrum list": ["/spectra/"],
        "material list": ["/materials/"],
        "release list": ["/releases/"],
        "job list": ["/jobs/"],
        "account": ["/account/"],
        "upload form": ["/upload/"],
        "new-record forms": ["/separators/new/", "/cells/new/", "/interfaces/new/", "/materials/new/",
                             "/electrodes/new/", "/dc-polarisations/new/", "/ccd-tests/new/", "/releases/new/"],
        "benchmarks dashboard": ["/benchmarks/"],
        "leaderboard": [f"/benchmarks/leaderboard/{m}/" for m in Metric.values],
        "benchmark entry": [f"/benchmarks/entries/{pk}/" for pk in pks(BenchmarkEntry)],
        "release": [f"/releases/{pk}/" for pk in pks(Release)],
        "material": [f"/materials/{pk}/" for pk in pks(Material)],
        "separator": [f"/separators/{pk}/" for pk in separators],
        "separator plots": [f"/separators/{pk}/plots/" for pk in separators],
        "cell": [f"/cells/{pk}/" for pk in cells],
        "cell plots": [f"/cells/{pk}/plots/" for pk in cells],
        "interface": [f"/interfaces/{pk}/" for pk in interfaces],
        "interface plots": [f"/interfaces/{pk}/plots/" for pk in interfaces],
        "DC polarisation": [f"/dc-polarisations/{pk}/" for pk in pks(DCPolarisation)],
        "CCD test": [f"/ccd-tests/{pk}/" for pk in pks(CriticalCurrentDensityTest)],
        "spectrum": [f"/spectra/{pk}/" for pk in spectra],
        "spectrum plots": [f"/spectra/{pk}/plots/" for pk in spectra],
        "hand-fit preview": [(f"/spectra/{pk}/fit/preview/", {"circuit": "R0-p(R1,CPE1)"}) for pk in spectra[:3]],
        "compare separators": compare("separator", separators),
        "compare cells": compare("cell", cells),
        "compare interfaces": compare("interface", interfaces),
        "compare spectra": compare("spectrum", spectra),
    }


def timed_request(client, page: str | tuple[str, dict]) -> tuple[float, int, float]:
    """(wall ms, status, CPU ms of this process) of one request: a GET of a URL, or a POST of (URL, form data)."""
    url, data = (page, None) if isinstance(page, str) else page
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(url) if data is None else client.post(url, data)
    if response.streaming:
        b"".join(response.streaming_content)
    return (time.perf_counter() - started) * 1000.0, response.status_code, (time.process_time() - cpu_started) * 1000.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0–1) by linear interpolation between the sorted values."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spectra", type=int, default=30, help="spectrum pages measured (the first N)")
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--only", default="", help="measure only the page kinds containing this text")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="assbdb-pages-") as tmp:
        configure_environment(Path(tmp))
        import django

        django.setup()
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import setup_test_environment

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("load_demo", "--analyse", "now", stdout=open(os.devnull, "w"))
        print(f"demo loaded and analysed in {time.perf_counter() - started:.0f} s ({connection.vendor})", flush=True)

        setup_test_environment()  # ALLOWED_HOSTS for the test client
        import logging

        logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s of records the demo user may not see
        client = Client()
        from django.contrib.auth import get_user_model

        client.force_login(get_user_model().objects.get(username="demo"))  # the demo's superuser

        over = []
        print(f"{'page':22} {'urls':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cpu p50':>7}  slowest URL")
        for kind, pages in page_groups(args.spectra).items():
            if args.only and args.only not in kind:
                continue
            if not pages:
                print(f"{kind:22} {0:>4}  (no record in the demo)")
                continue
            samples, cpu, medians, hidden = [], [], [], 0
            for page in pages:
                if not isinstance(page, str):
                    cache.clear()  # the scratch cache: the hand-fit preview is rate-limited per user and minute
                _, status, _ = timed_request(client, page)  # warm-up
                if status == 404:  # a record the demo user may not see (another group's private one)
                    hidden += 1
                    continue
                if status != 200:
                    raise SystemExit(f"{page} answered {status}")
                measured = [timed_request(client, page) for _ in range(args.repeat)]
                times = [wall for wall, _, _ in measured]
                samples += times
                cpu += [cpu_ms for _, _, cpu_ms in measured]
                medians.append((statistics.median(times), page if isinstance(page, str) else f"POST {page[0]}"))
            if not medians:
                print(f"{kind:22} {0:>4}  (none visible to the demo user)")
                continue
            slowest_ms, slowest_url = max(medians)
            note = f" ({hidden} not visible)" if hidden else ""
            print(f"{kind:22} {len(medians):>4} {percentile(samples, 0.5):>7.0f} {percentile(samples, 0.95):>7.0f}"
                  f" {max(samples):>7.0f} {percentile(cpu, 0.5):>7.0f}  {slowest_url}{note}", flush=True)
            over += [(m, u) for m, u in medians if m > args.budget_ms]
        if over:
            print(f"\n{len(over)} page(s) whose median is over {args.budget_ms:.0f} ms:")
            for ms, url in sorted(over, reverse=True):
                print(f"  {ms:6.0f} ms  {url}")
            return 1
        print(f"\nevery page's median under {args.budget_ms:.0f} ms")
        return 0


if __name__ == "__main__":
    sys.exit(main())
