"""Background recomputation of benchmark entries (thin: ids in, service call)."""
from celery import shared_task
from django.db import OperationalError

from . import services


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def recompute_benchmark_entries(self, separator_ids=(), cell_ids=()) -> int:
    """Recompute the entries of these separators and cells; safe to run twice (nothing changes)."""
    return services.recompute_entries(separator_ids=separator_ids, cell_ids=cell_ids)
