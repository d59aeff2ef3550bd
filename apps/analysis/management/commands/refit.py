"""Re-fit many spectra under a protocol (or every spectrum under its standard protocol), with progress."""
import time

from django.core.management import BaseCommand, CommandError

from apps.analysis import services
from apps.analysis.jobs import refit_in_process
from apps.analysis.models import FitProtocol
from apps.analysis.protocols import STANDARD_PROTOCOL_NAMES
from apps.jobs.models import Job


def progress_line(job: Job) -> str:
    total = job.progress_total or 1
    return f"re-fit {job.progress_done}/{total} spectra ({100 * job.progress_done / total:.0f} %) under {job.target_label}"


class Command(BaseCommand):
    help = (
        "Re-fit every spectrum a protocol applies to (--protocol NAME, newest version unless --protocol-version), "
        "or every spectrum under its standard protocol (--all). Runs in this process unless --background."
    )

    def add_arguments(self, parser):
        parser.add_argument("--protocol", help="Protocol name, e.g. 'Blocking pellet'.")
        parser.add_argument(
            "--protocol-version", dest="protocol_version", type=int, help="Protocol version (default: the newest)."
        )
        parser.add_argument("--all", action="store_true", help="Every spectrum, under its standard protocol.")
        parser.add_argument(
            "--background", action="store_true", help="Queue the jobs for the workers and follow their progress."
        )
        parser.add_argument("--timeout", type=float, default=3600, help="With --background: seconds to wait.")

    def handle(
        self, *args, protocol=None, protocol_version=None, all=False, background=False, timeout=3600.0, **options
    ):
        if bool(protocol) == bool(all):
            raise CommandError("Give either --protocol NAME or --all.")
        if all:
            targets = [services.latest_standard_protocol(name) for name in STANDARD_PROTOCOL_NAMES]
        else:
            qs = FitProtocol.objects.filter(name=protocol)
            if protocol_version is not None:
                qs = qs.filter(version=protocol_version)
            found = qs.order_by("-version").first()
            if found is None:
                known = ", ".join(sorted(set(FitProtocol.objects.values_list("name", flat=True))))
                which = f"{protocol!r}" + (f" v{protocol_version}" if protocol_version else "")
                raise CommandError(f"No protocol {which}. Known: {known}")
            targets = [found]
        for target in targets:
            job = self._background(target, timeout) if background else refit_in_process(
                protocol=target, progress=lambda j: self.stdout.write(progress_line(j))
            )
            summary = ", ".join(f"{k} {v}" for k, v in sorted((job.result or {}).items()))
            self.stdout.write(self.style.SUCCESS(f"{target}: {job.state}" + (f" ({summary})" if summary else "")))
            if job.error:
                self.stdout.write(self.style.WARNING(job.error))

    def _background(self, protocol: FitProtocol, timeout: float) -> Job:
        job = services.refit_protocol(protocol=protocol)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            job.refresh_from_db()
            line = progress_line(job)
            if line != last:
                self.stdout.write(line)
                last = line
            if job.is_finished:
                return job
            time.sleep(1.0)
        raise CommandError(f"Still {job.state} after {timeout:g} s (job {job.pk}); is a worker running?")
