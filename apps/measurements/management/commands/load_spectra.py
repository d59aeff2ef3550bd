"""Bulk-load a folder of instrument files into one cell, one progress line per file."""
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import BaseCommand, CommandError

from apps.catalog.models import Cell
from apps.measurements.services import ingest_paths


class Command(BaseCommand):
    help = (
        "Ingest every instrument file in a folder (optionally its sub-folders) into a cell. "
        "Each file is stored in its own transaction; duplicates and unreadable files are reported, not fatal."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--cell", type=int, required=True, help="Id of the cell the spectra belong to.")
        parser.add_argument(
            "--user", default=None, help="Username recorded as uploader (a member of the cell's group); default: a superuser."
        )
        parser.add_argument("--recursive", action="store_true", help="Also load files in sub-folders.")
        parser.add_argument("--temperature-c", type=float, default=None, help="Temperature of every spectrum, °C.")
        parser.add_argument("--stack-pressure-mpa", type=float, default=None, help="Stack pressure of every spectrum, MPa.")
        parser.add_argument("--no-analysis", action="store_true", help="Store only; queue no analysis jobs.")

    def handle(self, *args, folder: Path, cell: int, user, recursive: bool, temperature_c, stack_pressure_mpa,
               no_analysis: bool, **options):
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        target = Cell.objects.select_related("group").filter(pk=cell).first()
        if target is None:
            raise CommandError(f"There is no cell with id {cell}.")
        uploader = self._uploader(user)
        pattern = "**/*" if recursive else "*"
        paths = sorted(p for p in folder.glob(pattern) if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        if not paths:
            raise CommandError(f"{folder} holds no files.")
        conditions = {k: v for k, v in (("temperature_c", temperature_c), ("stack_pressure_mpa", stack_pressure_mpa)) if v is not None}
        self.stdout.write(f"Loading {len(paths)} files into {target} ({target.group}) …")

        def progress(done: int, total: int, outcome) -> None:
            detail = f"{len(outcome.spectra)} spectra" if outcome.status != "rejected" else outcome.reason
            self.stdout.write(f"[{done}/{total}] {outcome.name}: {outcome.status} ({detail})")

        try:
            report = ingest_paths(
                cell=target, paths=paths, user=uploader, conditions=conditions, analyse=not no_analysis, on_progress=progress
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        summary = (
            f"{len(report.accepted)} accepted ({len(report.spectra) - sum(len(f.spectra) for f in report.duplicates)} spectra), "
            f"{len(report.duplicates)} duplicate, {len(report.rejected)} rejected."
        )
        self.stdout.write(self.style.SUCCESS(summary) if not report.rejected else self.style.WARNING(summary))

    @staticmethod
    def _uploader(username: str | None):
        User = get_user_model()
        if username:
            found = User.objects.filter(username=username).first()
            if found is None:
                raise CommandError(f"There is no user {username!r}.")
            return found
        found = User.objects.filter(is_superuser=True).order_by("pk").first()
        if found is None:
            raise CommandError("No superuser exists; name the uploader with --user.")
        return found
