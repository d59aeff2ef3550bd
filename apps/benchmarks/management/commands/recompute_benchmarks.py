"""Recompute benchmark entries of every (or the given) separator and cell."""
import multiprocessing

from django.core.management.base import BaseCommand
from django.db import connections, transaction
from django.db.models import Count, Q

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
        parser.add_argument(
            "--workers", type=int, default=1,
            help="Processes recomputing side by side (each with its own database connection), largest separators "
            "first; PostgreSQL only (SQLite takes one writer at a time).",
        )

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
        if options["workers"] > 1 and connections["default"].vendor == "sqlite":
            # SQLite takes one writer at a time (and a forked process cannot share an in-memory database).
            self.stdout.write("SQLite: recomputing in one process (--workers needs PostgreSQL)")
        elif options["workers"] > 1:
            self._in_parallel(separator_ids, cell_ids, options["workers"])
            return
        changed = 0
        for label, key, ids in (("separators", "separator_ids", separator_ids), ("cells", "cell_ids", cell_ids)):
            for done, pk in enumerate(ids, start=1):
                changed += services.recompute_entries(**{key: [pk]})
                self.stdout.write(f"\r{label}: {done}/{len(ids)}", ending="")
            if ids:
                self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{changed} benchmark entries created, changed or deleted"))

    def _in_parallel(self, separator_ids: list[int], cell_ids: list[int], workers: int) -> None:
        """One task per separator (with its cells) and per remaining cell, the separators with most spectra
        first so the longest task does not start last; forked processes, each opening its own connection."""
        spectra = dict(
            Cell.objects.filter(separator_id__in=separator_ids).values_list("separator_id")
            .annotate(n=Count("spectra")).values_list("separator_id", "n")
        )
        tasks = [("separator_ids", pk) for pk in sorted(separator_ids, key=lambda pk: -spectra.get(pk, 0))]
        tasks += [("cell_ids", pk) for pk in cell_ids]
        connections.close_all()  # a forked process must not share the parent's socket
        changed = 0
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, n in enumerate(pool.imap_unordered(_recompute_one, tasks), start=1):
                changed += n
                self.stdout.write(f"\rrecords: {done}/{len(tasks)}", ending="")
        if tasks:
            self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{changed} benchmark entries created, changed or deleted"))


def _recompute_one(task: tuple[str, int]) -> int:
    key, pk = task
    try:
        return services.recompute_entries(**{key: [pk]})
    finally:
        connections.close_all()
