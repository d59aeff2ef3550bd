"""Recompute benchmark entries of every (or the given) separator and cell."""
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from apps.benchmarks import queueing, services
from apps.catalog.models import Cell, Separator


class Command(BaseCommand):
    help = (
        "Recompute benchmark entries now (all separators and cells unless ids are given), one separator with its "
        "cells at a time, with a progress line; --background queues one job per separator instead, so every "
        "worker (on any machine) takes a share."
    )

    def add_arguments(self, parser):
        parser.add_argument("--separator", type=int, action="append", default=[], help="Separator id (repeatable).")
        parser.add_argument("--cell", type=int, action="append", default=[], help="Cell id (repeatable).")
        parser.add_argument("--background", action="store_true", help="Queue recomputation jobs for the workers.")

    def handle(self, *args, **options):
        separator_ids, cell_ids = options["separator"], options["cell"]
        if not separator_ids and not cell_ids:
            separator_ids = list(Separator.objects.order_by("pk").values_list("pk", flat=True))
            cell_ids = list(Cell.objects.order_by("pk").values_list("pk", flat=True))
        # A separator's recomputation covers its cells (and a cell's covers its separator): each once.
        covered = set(
            Cell.objects.filter(Q(separator_id__in=separator_ids) | Q(layers__separator_id__in=separator_ids))
            .values_list("pk", flat=True)
        )
        cell_ids = [c for c in cell_ids if c not in covered]
        if options["background"]:
            with transaction.atomic():
                jobs = queueing.queue_recompute_jobs(separator_ids=separator_ids, cell_ids=cell_ids)
            self.stdout.write(self.style.SUCCESS(f"{len(jobs)} recomputation jobs queued (see the jobs page)"))
            return
        changed = 0
        for label, key, ids in (("separators", "separator_ids", separator_ids), ("cells", "cell_ids", cell_ids)):
            for done, pk in enumerate(ids, start=1):
                changed += services.recompute_entries(**{key: [pk]})
                self.stdout.write(f"\r{label}: {done}/{len(ids)}", ending="")
            if ids:
                self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{changed} benchmark entries created, changed or deleted"))
