"""The benchmarks app's job kind, registered with ``apps.jobs``: recomputing benchmark entries.

A recomputation is a Job row like every other background computation: queued on
commit, debounced (at most one queued per separator or cell), listed on the jobs
page and recovered by the sweep. The analysis app queues it by name after an
Arrhenius fit; edits of catalog and measurement rows queue it through
``signals.py``.
"""
from __future__ import annotations

from collections.abc import Iterable

from apps.catalog.models import Cell, Separator
from apps.jobs.models import Job
from apps.jobs.registry import JobOutcome, register_job_kind
from apps.jobs.services import ensure_queued

from . import services


@register_job_kind(Job.Kind.RECOMPUTE_BENCHMARKS, label=Job.Kind.RECOMPUTE_BENCHMARKS.label)
def recompute_benchmarks(job: Job) -> JobOutcome:
    """A separator's entries and its cells', or one cell's (a cell without a separator)."""
    if job.target_type == "separator":
        cell_ids = list(Cell.objects.filter(separator_id=job.target_id).values_list("pk", flat=True))
        n = services.recompute_entries(separator_ids=[job.target_id], cell_ids=cell_ids)
    else:
        n = services.recompute_entries(separator_ids=[], cell_ids=[job.target_id])
    return JobOutcome({"entries": int(n or 0)})


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
