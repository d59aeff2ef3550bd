"""Celery tasks of the measurements app: the periodic folding of spectrum counts."""
from celery import shared_task

from . import services


@shared_task(name="measurements.compact_spectrum_counts", ignore_result=True)
def compact_spectrum_counts() -> int:
    """Periodic: fold the signed rows the count triggers append (see `SpectrumCount`)."""
    return services.compact_spectrum_counts()
