"""Reads of spectra, raw files and other measurements, through the visibility rule.

A spectrum is visible when both it and its cell are visible to the user; a raw file when it and its
cell are (visibility follows references, `apps.accounts.references`).
"""
from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.selectors import visible_q

from .models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile, SpectrumCount


def visible_spectra(*, user, with_arrays: bool = False) -> QuerySet[ImpedanceSpectrum]:
    qs = ImpedanceSpectrum.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related(
        "cell", "cell__separator", "group", "raw_file"
    )
    return qs if with_arrays else qs.defer("data")


def visible_spectrum_counts(*, user, cell_ids) -> dict[int, int]:
    """Spectra visible to the user per cell, for the given (visible) cells: sums of their `SpectrumCount`
    rows, a few per cell whatever its number of spectra."""
    rows = (
        SpectrumCount.objects.filter(visible_q(user), cell_id__in=list(cell_ids)).order_by()
        .values("cell_id").annotate(total=Sum("n")).values_list("cell_id", "total")
    )
    return {cell_id: total for cell_id, total in rows if total}


def visible_spectrum_count_of_cell(*, user, cell_ref: str = "pk") -> Subquery:
    """The same sum for each row of a query of visible cells (`cell_ref`: the cell id's path there), 0 for none;
    cheap enough to order cells by."""
    total = (
        SpectrumCount.objects.filter(visible_q(user), cell_id=OuterRef(cell_ref)).order_by()
        .values("cell_id").annotate(total=Sum("n")).values("total")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def visible_raw_files(*, user) -> QuerySet[RawFile]:
    """Raw files visible to `user` whose cell (if any) is visible too: a file is never more visible than its cell."""
    return RawFile.objects.filter(visible_q(user) & (Q(cell__isnull=True) | visible_q(user, "cell__"))).select_related(
        "group", "cell"
    )


def visible_dc_polarisations(*, user) -> QuerySet[DCPolarisation]:
    return DCPolarisation.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")


def visible_ccd_tests(*, user) -> QuerySet[CriticalCurrentDensityTest]:
    return CriticalCurrentDensityTest.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")
