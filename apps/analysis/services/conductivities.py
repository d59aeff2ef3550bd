"""Conductivities σ = L/(R·A) of a fit, per kind, with the error propagated from R, L and A."""
from __future__ import annotations

import math

from django.db import transaction

from apps.measurements.models import ImpedanceSpectrum

from ..models import Conductivity, FitResult


def spectrum_geometry(spectrum: ImpedanceSpectrum) -> tuple[float | None, float | None, float, float, str]:
    """(thickness cm, area cm², thickness stderr cm, area stderr cm², reason when missing)."""
    cell = spectrum.cell
    separator = cell.separator
    if separator is None:
        return None, None, 0.0, 0.0, "the cell names no separator"
    if not separator.thickness_um:
        return None, None, 0.0, 0.0, f"separator {separator.name!r} has no thickness"
    area = cell.active_area_cm2 or separator.area_cm2
    if not area:
        return None, None, 0.0, 0.0, f"neither cell {cell.name!r} nor separator {separator.name!r} states an area"
    thickness_stderr_cm = (separator.thickness_stderr_um or 0.0) * 1e-4
    return separator.thickness_um * 1e-4, float(area), thickness_stderr_cm, 0.0, ""


@transaction.atomic
def compute_conductivities(*, fit: FitResult, resistances: dict[str, tuple[float, float]]) -> list[Conductivity]:
    """σ = L/(R·A) per kind (bulk, grain boundary, total) with propagated error; stale kinds removed."""
    from apps.analysis.eis import derived as eis_derived

    spectrum = fit.spectrum
    thickness_cm, area_cm2, thickness_stderr_cm, area_stderr_cm2, missing = spectrum_geometry(spectrum)
    rows: list[Conductivity] = []
    if not missing:
        for kind, (r_ohm, r_stderr) in resistances.items():
            if not (r_ohm > 0 and math.isfinite(r_ohm)):
                continue
            sigma = eis_derived.conductivity(
                r_ohm, thickness_cm, area_cm2, resistance_stderr_ohm=r_stderr,
                thickness_stderr_cm=thickness_stderr_cm, area_stderr_cm2=area_stderr_cm2,
            )
            values = {
                "spectrum": spectrum, "resistance_ohm": r_ohm, "resistance_stderr_ohm": r_stderr,
                "conductivity_s_per_cm": sigma.value_s_per_cm,
                "conductivity_stderr_s_per_cm": sigma.stderr_s_per_cm if math.isfinite(sigma.stderr_s_per_cm) else None,
                "temperature_c": spectrum.temperature_c, "thickness_um": thickness_cm * 1e4, "area_cm2": area_cm2,
            }
            rows.append(Conductivity(fit=fit, kind=kind, **values))
    # One read and at most three writes instead of a get-or-create per kind: the same rows (and
    # primary keys) as update_or_create, with less time holding the database's write lock.
    existing = {c.kind: c for c in fit.conductivities.all()}
    to_update, to_create = [], []
    for row in rows:
        old = existing.pop(row.kind, None)
        if old is None:
            to_create.append(row)
        else:
            row.pk = old.pk
            to_update.append(row)
    if existing:
        Conductivity.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()
    if to_update:
        Conductivity.objects.bulk_update(to_update, [
            "spectrum", "resistance_ohm", "resistance_stderr_ohm", "conductivity_s_per_cm",
            "conductivity_stderr_s_per_cm", "temperature_c", "thickness_um", "area_cm2",
        ])
    if to_create:
        Conductivity.objects.bulk_create(to_create)
    return rows
