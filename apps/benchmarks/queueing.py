"""Queueing benchmark recomputation as Job rows (kind ``recompute_benchmarks``, run by ``jobs.py``).

Queued on commit, debounced (at most one queued job per separator or cell), listed
on the jobs page and recovered by the sweep. The analysis app queues the same kind
by name after an Arrhenius fit; edits of catalog and measurement rows queue it
through ``signals.py``.
"""
from __future__ import annotations

from collections.abc import Iterable

from apps.catalog.models import Cell, Separator
from apps.jobs.models import Job
from apps.jobs.services import ensure_queued


def queue_recompute_jobs(*, separator_ids: Iterable[int] = (), cell_ids: Iterable[int] = ()) -> list[Job]:
    """One recomputation job per separator (with its cells) and per cell whose separator is not among them."""
    jobs = []
    separators = Separator.objects.filter(pk__in=sorted(set(separator_ids))).only("pk", "name", "group_id")
    covered = set()
    for separator in separators.order_by("pk"):
        covered.add(separator.pk)
        jobs.append(ensure_queued(
            kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="separator", target_id=separator.pk,
            target_label=separator.name, group_id=separator.group_id,
        ))
    cells = Cell.objects.filter(pk__in=sorted(set(cell_ids))).only("pk", "name", "group_id", "separator_id")
    for cell in cells.order_by("pk"):
        if cell.separator_id in covered:
            continue  # the separator's job recomputes its cells too
        jobs.append(ensure_queued(
            kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="cell", target_id=cell.pk, target_label=cell.name,
            group_id=cell.group_id,
        ))
    return jobs
