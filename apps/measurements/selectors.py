"""Reads of spectra, raw files and other measurements, through the visibility rule.

A spectrum is visible when both it and its cell are visible to the user; a raw file when it and its
cell are (visibility follows references, `apps.accounts.references`).
"""
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.selectors import absent_or_visible_q, shared_for_anonymous, visible_q

from .models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile, SpectrumCount


@shared_for_anonymous
def visible_spectra(*, user, with_arrays: bool = False) -> QuerySet[ImpedanceSpectrum]:
    qs = ImpedanceSpectrum.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related(
        "cell", "cell__separator", "group", "raw_file"
    )
    return qs if with_arrays else qs.defer("data")


#: What `can_see` reads of a record (visibility follows references): whom it belongs to and who may see it when.
_VISIBILITY_COLUMNS = ("group_id", "visibility", "embargo_until", "created_by_id")
#: The columns a spectrum's API representation reads of the records it references (names, ids, and what decides
#: whether the viewer may see each one); the rest of those rows (a separator's thirty columns) is never shown.
_REFERENCED_COLUMNS = (
    *(f"cell__{name}" for name in ("name", "configuration", "separator_id", *_VISIBILITY_COLUMNS)),
    *(f"cell__separator__{name}" for name in _VISIBILITY_COLUMNS),
    *(f"raw_file__{name}" for name in _VISIBILITY_COLUMNS),
    "group__name",
)


@shared_for_anonymous
def visible_spectra_to_show(*, user, detail: bool = False) -> QuerySet[ImpedanceSpectrum]:
    """`visible_spectra` for the API's spectrum representation: every column of the spectrum (its arrays and
    metadata in a detail only) and of its Kramers–Kronig check (only the verdict in a list), and of the records
    it references only what is shown of them or decides whether they are shown."""
    own = [f.attname for f in ImpedanceSpectrum._meta.concrete_fields if detail or f.name not in ("data", "metadata")]
    kk_check_model = ImpedanceSpectrum._meta.get_field("kk_check").related_model
    check = [f"kk_check__{f.attname}" for f in kk_check_model._meta.concrete_fields] if detail else ["kk_check__verdict"]
    qs = visible_spectra(user=user, with_arrays=detail).select_related("kk_check")
    return qs.only(*own, *_REFERENCED_COLUMNS, *check)


def _visible_spectrum_totals(*, user, **cells) -> QuerySet:
    """Per cell (of those `cells` selects), the sum of the `SpectrumCount` rows the user may see: a few rows per
    cell whatever its number of spectra."""
    return (
        SpectrumCount.objects.filter(visible_q(user), **cells).order_by()
        .values("cell_id").annotate(total=Sum("n"))
    )


def visible_spectrum_counts(*, user, cell_ids) -> dict[int, int]:
    """Spectra visible to the user per cell, for the given (visible) cells."""
    rows = _visible_spectrum_totals(user=user, cell_id__in=list(cell_ids)).values_list("cell_id", "total")
    return {cell_id: total for cell_id, total in rows if total}


def visible_spectrum_count_of_cell(*, user, cell_ref: str = "pk") -> Subquery:
    """The same sum for each row of a query of visible cells (`cell_ref`: the cell id's path there), 0 for none;
    cheap enough to order cells by."""
    total = _visible_spectrum_totals(user=user, cell_id=OuterRef(cell_ref)).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def visible_raw_files(*, user) -> QuerySet[RawFile]:
    """Raw files visible to `user` whose cell (if any) is visible too: a file is never more visible than its cell."""
    return RawFile.objects.filter(visible_q(user) & absent_or_visible_q(user, "cell")).select_related(
        "group", "cell"
    )


def visible_dc_polarisations(*, user) -> QuerySet[DCPolarisation]:
    return DCPolarisation.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")


def visible_ccd_tests(*, user) -> QuerySet[CriticalCurrentDensityTest]:
    return CriticalCurrentDensityTest.objects.filter(visible_q(user), visible_q(user, "cell__")).select_related("cell")
