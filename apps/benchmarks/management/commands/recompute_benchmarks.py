"""Recompute benchmark entries of every (or the given) separator and cell."""
from django.core.management.base import BaseCommand

from apps.benchmarks import services
from apps.catalog.models import Cell, Separator


class Command(BaseCommand):
    help = "Recompute benchmark entries now (all separators and cells unless ids are given)."

    def add_arguments(self, parser):
        parser.add_argument("--separator", type=int, action="append", default=[], help="Separator id (repeatable).")
        parser.add_argument("--cell", type=int, action="append", default=[], help="Cell id (repeatable).")

    def handle(self, *args, **options):
        separator_ids, cell_ids = options["separator"], options["cell"]
        if not separator_ids and not cell_ids:
            separator_ids = list(Separator.objects.values_list("pk", flat=True))
            cell_ids = list(Cell.objects.values_list("pk", flat=True))
        total, changed = len(separator_ids), 0
        for done, separator_id in enumerate(separator_ids, start=1):
            changed += services.recompute_entries(separator_ids=[separator_id])
            self.stdout.write(f"\rseparators: {done}/{total}", ending="")
        if separator_ids:
            self.stdout.write("")
        remaining = [c for c in cell_ids]
        for done, cell_id in enumerate(remaining, start=1):
            changed += services.recompute_entries(cell_ids=[cell_id])
            self.stdout.write(f"\rcells: {done}/{len(remaining)}", ending="")
        if remaining:
            self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{changed} benchmark entries created, changed or deleted"))
