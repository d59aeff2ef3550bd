"""The benchmarks app's job kind, registered with ``apps.jobs``: recomputing benchmark entries.

A recomputation is a Job row like every other background computation (queued by
``queueing.queue_recompute_jobs``, listed on the jobs page, recovered by the sweep).
"""
from __future__ import annotations

from apps.catalog.models import Cell
from apps.jobs.models import Job
from apps.jobs.registry import JobOutcome, register_job_kind

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
