"""Load the demo dataset (idempotent), then analyse it: queue jobs, analyse now, or leave it."""
import time
from pathlib import Path

from django.core.management import BaseCommand, CommandError

from apps.catalog.demo import default_instrument_files_dir, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo dataset: three research groups, users demo/demo-password (superuser) and "
        "guest/guest-password, separators, cells, impedance spectra and the shared instrument files. "
        "Running it again creates nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--analyse",
            choices=("queue", "now", "none"),
            default="queue",
            help="queue: jobs for the background worker (default); now: analyse in this process; none: skip.",
        )
        parser.add_argument(
            "--instrument-files",
            type=Path,
            default=None,
            help=f"Folder of real instrument exports to attach (default {default_instrument_files_dir()}).",
        )

    def handle(self, *args, analyse: str, instrument_files: Path | None, **options):
        started = time.monotonic()
        self.stdout.write("Loading the demo dataset …")
        result = load_demo(instrument_files=instrument_files, progress=self.stdout.write)
        made = ", ".join(f"{n} {what}" for what, n in result.created.items() if n) or "nothing new (already loaded)"
        self.stdout.write(f"Created: {made}.")
        self._import_literature()
        if analyse == "queue":
            self._queue(result)
        elif analyse == "now":
            self._analyse_now(result)
        self._release(queued=analyse == "queue")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {time.monotonic() - started:.1f} s."))

    def _import_literature(self) -> None:
        """Published conductivities (OBELiX) drawn behind the demo's own results on the dashboard."""
        from apps.benchmarks.services import default_literature_path, import_literature

        path = default_literature_path()
        if not path.exists():
            self.stdout.write(f"Literature values skipped: {path} not found (set LITERATURE_CSV).")
            return
        report = import_literature(path)
        self.stdout.write(f"Literature values: {report.total} in {path.name} ({report.created} new).")

    def _release(self, *, queued: bool) -> None:
        """The demo releases: public pages show released numbers, so a newcomer's leaderboards are filled."""
        from apps.releases.demo import publish_demo_releases
        from apps.releases.jobs import queue_demo_release, waiting_demo_release

        if queued:
            job = waiting_demo_release() or queue_demo_release()
            self.stdout.write(f"Demo releases: published by job {job.pk} once the worker has analysed the demo.")
            return
        releases = publish_demo_releases()
        self.stdout.write(f"Demo releases: {len(releases)} published"
                          + (f" ({', '.join(r.label for r in releases)})." if releases else
                             " (none new: already released, or nothing analysed yet)."))

    @staticmethod
    def _unanalysed(spectrum_ids: list[int]) -> list[int]:
        """Spectra with neither a fit nor a job: running the command twice queues nothing twice."""
        from apps.analysis.models import FitResult
        from apps.jobs.models import Job

        fitted = set(FitResult.objects.filter(spectrum_id__in=spectrum_ids).values_list("spectrum_id", flat=True))
        queued = set(
            Job.objects.filter(target_type="spectrum", target_id__in=spectrum_ids).values_list("target_id", flat=True)
        )
        return [pk for pk in spectrum_ids if pk not in fitted and pk not in queued]

    def _queue(self, result) -> None:
        from apps.analysis.services import queue_analysis

        pending = self._unanalysed(result.spectrum_ids)
        jobs = queue_analysis(spectrum_ids=pending, user=None) if pending else []
        self.stdout.write(f"Queued {len(jobs)} analysis jobs for the worker ({len(result.spectrum_ids) - len(pending)} already done or queued).")

    def _analyse_now(self, result) -> None:
        from apps.analysis import services as analysis
        from apps.benchmarks.services import recompute_entries

        pending = self._unanalysed(result.spectrum_ids)
        failures = 0
        for done, spectrum_id in enumerate(pending, start=1):
            try:
                outcome = analysis.analyse_spectrum(spectrum_id=spectrum_id)
            except Exception as exc:  # one bad spectrum must not stop the demo; it is reported
                failures += 1
                self.stderr.write(f"  spectrum {spectrum_id}: analysis failed: {exc}")
                continue
            if done % 10 == 0 or done == len(pending):
                self.stdout.write(f"  analysed [{done}/{len(pending)}] (last: {outcome.fit})")
        from apps.analysis.services.model_choice import choose_cell_series_models, has_family_series
        from apps.measurements.models import ImpedanceSpectrum

        cells = ImpedanceSpectrum.objects.filter(pk__in=result.spectrum_ids).values_list("cell_id", flat=True)
        for cell_id in has_family_series(set(cells)):
            try:  # one model family across each series of the cell, before its Arrhenius fit
                choose_cell_series_models(cell_id=cell_id)
            except Exception as exc:
                failures += 1
                self.stderr.write(f"  cell {cell_id}: series model choice failed: {exc}")
        for separator_id in result.separator_ids:
            try:
                analysis.fit_arrhenius_series(separator_id=separator_id)
            except Exception as exc:
                failures += 1
                self.stderr.write(f"  separator {separator_id}: Arrhenius fit failed: {exc}")
        try:
            n = recompute_entries(separator_ids=result.separator_ids, cell_ids=result.cell_ids)
            self.stdout.write(f"  benchmark entries recomputed: {n}")
        except Exception as exc:
            failures += 1
            self.stderr.write(f"  benchmarks: {exc}")
        if failures:
            raise CommandError(f"{failures} analysis step(s) failed; see above.")
