"""Import the OBELiX literature conductivities (idempotent)."""
from django.core.management.base import BaseCommand, CommandError

from apps.benchmarks import services


class Command(BaseCommand):
    help = "Import reported room-temperature conductivities (OBELiX CSV, CC BY 4.0) as literature values."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="CSV path (default: LITERATURE_CSV or ../shared/data/literature/obelix-all.csv)")

    def handle(self, *args, **options):
        path = options.get("path") or services.default_literature_path()

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"\rliterature: {done}/{total} rows", ending="")
            self.stdout.flush()

        try:
            report = services.import_literature(path, progress=progress)
        except services.LiteratureImportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(
            f"{report.total} literature values from {path}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged"))
