"""Server time of every page at the demo size: loads the demo (analysed) into a scratch database,
requests each page as the demo user through Django's test client and prints milliseconds per page.

Server time is the time the client call takes in-process (URL resolution, middleware, queries,
template rendering), without network or browser. Each URL is requested once to warm caches (the DRT
cache, template loading), then `--repeat` times; the median is reported. Detail pages are measured for
every record of their kind (spectra: the first `--spectra`); the slowest record is shown as well.

Scratch database: a temporary SQLite file unless DATABASE_URL is given (it must be a scratch one; the
demo loader is idempotent, so a kept database is reused). MEDIA_ROOT likewise.

    .venv/bin/python benchmarks/page_times.py [--repeat 3] [--spectra 30] [--budget-ms 300]
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
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"


def page_groups(spectra_limit: int) -> dict[str, list[str]]:
    """Page kind → URLs: every list page, every detail page of the demo (spectra: the first few)."""
    from apps.benchmarks.models import BenchmarkEntry, Metric
    from apps.catalog.models import Cell, Interface, Material, Separator
    from apps.measurements.models import ImpedanceSpectrum

    spectra = list(ImpedanceSpectrum.objects.order_by("pk").values_list("pk", flat=True)[:spectra_limit])
    separators = list(Separator.objects.order_by("pk").values_list("pk", flat=True))
    return {
        "home": ["/"],
        "search": ["/search/?q=Li"],
        "separator list": ["/separators/"],
        "cell list": ["/cells/"],
        "interface list": ["/interfaces/"],
        "spectrum list": ["/spectra/"],
        "material list": ["/materials/"],
        "job list": ["/jobs/"],
        "account": ["/account/"],
        "upload": ["/upload/"],
        "benchmarks dashboard": ["/benchmarks/"],
        "leaderboard": [f"/benchmarks/leaderboard/{m}/" for m in Metric.values],
        "benchmark entry": [f"/benchmarks/entries/{pk}/" for pk in BenchmarkEntry.objects.values_list("pk", flat=True)],
        "material": [f"/materials/{pk}/" for pk in Material.objects.values_list("pk", flat=True)],
        "separator": [f"/separators/{pk}/" for pk in separators],
        "separator plots": [f"/separators/{pk}/plots/" for pk in separators],
        "cell": [f"/cells/{pk}/" for pk in Cell.objects.values_list("pk", flat=True)],
        "interface": [f"/interfaces/{pk}/" for pk in Interface.objects.values_list("pk", flat=True)],
        "spectrum": [f"/spectra/{pk}/" for pk in spectra],
        "spectrum plots": [f"/spectra/{pk}/plots/" for pk in spectra],
        "compare separators": ["/compare/?kind=separator&" + "&".join(f"ids={pk}" for pk in separators[:6])],
        "compare spectra": ["/compare/?kind=spectrum&" + "&".join(f"ids={pk}" for pk in spectra[:6])],
    }


def timed_get(client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    return (time.perf_counter() - started) * 1000.0, response.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spectra", type=int, default=30, help="spectrum pages measured (the first N)")
    parser.add_argument("--budget-ms", type=float, default=300.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="assbdb-pages-") as tmp:
        configure_environment(Path(tmp))
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("load_demo", "--analyse", "now", stdout=open(os.devnull, "w"))
        print(f"demo loaded and analysed in {time.perf_counter() - started:.0f} s", flush=True)

        setup_test_environment()  # ALLOWED_HOSTS for the test client
        import logging

        logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s of records the demo user may not see
        client = Client()
        from django.contrib.auth import get_user_model

        client.force_login(get_user_model().objects.get(username="demo"))  # the demo's superuser

        over = []
        print(f"{'page':24} {'n':>4} {'median ms':>10} {'slowest ms':>11}  slowest URL")
        for kind, urls in page_groups(args.spectra).items():
            if not urls:
                print(f"{kind:24} {0:>4}  (no record in the demo)")
                continue
            medians, hidden = [], 0
            for url in urls:
                _, status = timed_get(client, url)  # warm-up
                if status == 404:  # a record the demo user may not see (another group's private one)
                    hidden += 1
                    continue
                if status != 200:
                    raise SystemExit(f"{url} answered {status}")
                medians.append((statistics.median(timed_get(client, url)[0] for _ in range(args.repeat)), url))
            if not medians:
                print(f"{kind:24} {0:>4}  (none visible to the demo user)")
                continue
            slowest_ms, slowest_url = max(medians)
            typical = statistics.median(m for m, _ in medians)
            note = f" ({hidden} not visible)" if hidden else ""
            print(f"{kind:24} {len(medians):>4} {typical:>10.0f} {slowest_ms:>11.0f}  {slowest_url}{note}", flush=True)
            over += [(m, u) for m, u in medians if m > args.budget_ms]
        if over:
            print(f"\n{len(over)} page(s) over {args.budget_ms:.0f} ms:")
            for ms, url in sorted(over, reverse=True):
                print(f"  {ms:6.0f} ms  {url}")
            return 1
        print(f"\nevery page under {args.budget_ms:.0f} ms")
        return 0


if __name__ == "__main__":
    sys.exit(main())
