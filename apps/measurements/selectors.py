"""Reads of spectra, raw files and other measurements, through the visibility rule.

A spectrum is visible when both it and its cell are visible to the user; a raw file when it and its
cell are (visibility follows references, `apps.accounts.references`).
"""
from django.db.models import Count, Q, QuerySet

from apps.accounts.selectors import visible_q

from .models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile


def visible_spectra(*, user, with_arrays: bool = False) -> QuerySet[ImpedanceSpectrum]:
    qs = ImpedanceSpectrum.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related(
        "cell", "cell__separator", "group", "raw_file"
    )
    return qs if with_arrays else qs.defer("data")


def visible_spectrum_counts(*, user, cell_ids) -> dict[int, int]:
    """Spectra visible to the user per cell, for the given cells only (a page of a list: counting every cell's
    spectra before paging would read all spectra)."""
    rows = (
        visible_spectra(user=user).filter(cell_id__in=list(cell_ids)).order_by()
        .values("cell_id").annotate(n=Count("pk")).values_list("cell_id", "n")
    )
    return dict(rows)


def visible_raw_files(*, user) -> QuerySet[RawFile]:
    """Raw files visible to `user` whose cell (if any) is visible too: a file is never more visible than its cell."""
    return RawFile.objects.filter(visible_q(user) & (Q(cell__isnull=True) | visible_q(user, "cell__"))).select_related(
        "group", "cell"
    )


def visible_dc_polarisations(*, user) -> QuerySet[DCPolarisation]:
    return DCPolarisation.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")


def visible_ccd_tests(*, user) -> QuerySet[CriticalCurrentDensityTest]:
    return CriticalCurrentDensityTest.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")
