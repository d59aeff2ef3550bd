"""Conductivities σ = L/(R·A) of a fit, per kind, with the error propagated from R, L and A."""
from __future__ import annotations

import math

from django.db import transaction
from django.db.models import Count, F, Sum

from apps.measurements.models import ImpedanceSpectrum

from ..models import Conductivity, ConductivitySummary, FitResult
from ..selectors import chosen_fit_pk


def spectrum_geometry(spectrum: ImpedanceSpectrum) -> tuple[float | None, float | None, float, float, str]:
    """(thickness cm, area cm², thickness stderr cm, area stderr cm², reason when missing)."""
    cell = spectrum.cell
    separator = cell.separator
    if separator is None:
        return None, None, 0.0, 0.0, "the cell names no separator"
    if not separator.thickness_um:
        # Reasons name no record: they are stored with the fit, which people may see without the separator.
        return None, None, 0.0, 0.0, "the separator states no thickness"
    area = cell.active_area_cm2 or separator.area_cm2
    if not area:
        return None, None, 0.0, 0.0, "neither the cell nor its separator states an area"
    thickness_stderr_cm = (separator.thickness_stderr_um or 0.0) * 1e-4
    return separator.thickness_um * 1e-4, float(area), thickness_stderr_cm, 0.0, ""


_CONDUCTIVITY_FIELDS = [
    "spectrum", "resistance_ohm", "resistance_stderr_ohm", "conductivity_s_per_cm",
    "conductivity_stderr_s_per_cm", "temperature_c", "thickness_um", "area_cm2",
]


def _conductivity_rows(fit: FitResult, resistances: dict[str, tuple[float, float]]) -> list[Conductivity]:
    """σ = L/(R·A) per kind of one fit, unsaved (none when the geometry is missing)."""
    from apps.analysis.eis import derived as eis_derived

    spectrum = fit.spectrum
    thickness_cm, area_cm2, thickness_stderr_cm, area_stderr_cm2, missing = spectrum_geometry(spectrum)
    rows: list[Conductivity] = []
    if missing:
        return rows
    for kind, (r_ohm, r_stderr) in resistances.items():
        if not (r_ohm > 0 and math.isfinite(r_ohm)):
            continue
        sigma = eis_derived.conductivity(
            r_ohm, thickness_cm, area_cm2, resistance_stderr_ohm=r_stderr,
            thickness_stderr_cm=thickness_stderr_cm, area_stderr_cm2=area_stderr_cm2,
        )
        rows.append(Conductivity(
            fit=fit, kind=kind, spectrum=spectrum, resistance_ohm=r_ohm, resistance_stderr_ohm=r_stderr,
            conductivity_s_per_cm=sigma.value_s_per_cm,
            conductivity_stderr_s_per_cm=sigma.stderr_s_per_cm if math.isfinite(sigma.stderr_s_per_cm) else None,
            temperature_c=spectrum.temperature_c, thickness_um=thickness_cm * 1e4, area_cm2=area_cm2,
        ))
    return rows


@transaction.atomic
def store_conductivities(resistances_by_fit: list[tuple[FitResult, dict[str, tuple[float, float]]]]) -> list[Conductivity]:
    """σ per kind for many fits in three statements whatever their number: rows of kinds a fit no longer
    has deleted, the others upserted on (fit, kind) so an existing row keeps its primary key."""
    rows = [row for fit, resistances in resistances_by_fit for row in _conductivity_rows(fit, resistances)]
    keep = {(row.fit_id, row.kind) for row in rows}
    existing = Conductivity.objects.filter(fit__in=[fit.pk for fit, _ in resistances_by_fit]).values_list(
        "pk", "fit_id", "kind"
    )
    stale = [pk for pk, fit_id, kind in existing if (fit_id, kind) not in keep]
    if stale:
        Conductivity.objects.filter(pk__in=stale).delete()
    if rows:
        Conductivity.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["fit", "kind"], update_fields=_CONDUCTIVITY_FIELDS
        )
    return rows


def compute_conductivities(*, fit: FitResult, resistances: dict[str, tuple[float, float]]) -> list[Conductivity]:
    """σ = L/(R·A) per kind (bulk, grain boundary, total) of one fit with propagated error; stale kinds removed."""
    return store_conductivities([(fit, resistances)])


def refresh_conductivity_summary(*, separator_ids) -> int:
    """Rewrite the separators' `ConductivitySummary` rows from their conductivities (each spectrum's chosen
    fit), summed per kind, temperature and visibility class in one aggregate; returns the rows written."""

    separator_ids = sorted({int(i) for i in separator_ids})
    classes = {
        "separator_id": "spectrum__cell__separator_id",
        "spectrum_group_id": "spectrum__group_id", "spectrum_visibility": "spectrum__visibility",
        "spectrum_embargo_until": "spectrum__embargo_until", "spectrum_created_by_id": "spectrum__created_by_id",
        "cell_group_id": "spectrum__cell__group_id", "cell_visibility": "spectrum__cell__visibility",
        "cell_embargo_until": "spectrum__cell__embargo_until", "cell_created_by_id": "spectrum__cell__created_by_id",
    }
    sums = (
        Conductivity.objects.filter(
            spectrum__cell__separator_id__in=separator_ids, temperature_c__isnull=False, fit_id=chosen_fit_pk()
        )
        .order_by()
        .values("kind", "temperature_c", *classes.values())
        .annotate(
            n=Count("pk"),
            sigma_sum_s_per_cm=Sum("conductivity_s_per_cm"),
            sigma_sum_of_squares=Sum(F("conductivity_s_per_cm") * F("conductivity_s_per_cm")),
            stderr_sum_s_per_cm=Sum("conductivity_stderr_s_per_cm"),
        )
    )
    rows = [
        ConductivitySummary(
            kind=row["kind"], temperature_c=row["temperature_c"], n=row["n"],
            sigma_sum_s_per_cm=row["sigma_sum_s_per_cm"], sigma_sum_of_squares=row["sigma_sum_of_squares"],
            stderr_sum_s_per_cm=row["stderr_sum_s_per_cm"],
            **{name: row[path] for name, path in classes.items()},
        )
        for row in sums
    ]
    with transaction.atomic():
        ConductivitySummary.objects.filter(separator_id__in=separator_ids).delete()
        ConductivitySummary.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
