"""Reporting completeness: how much of what decides a number was reported.

Each record kind (separator, cell, spectrum) has a checklist of items, each
with a weight and a one-line reason. An item that does not apply to the
record (densification pressure of a solution-cast membrane, interface
preparation of a blocking cell) is left out of both the numerator and the
denominator, so a record is never penalised for something it cannot have.

    score = Σ weight · satisfied / Σ weight          (applicable items only)

Weights: 3 = the number cannot be computed or compared without it
(thickness, area, temperature, stack pressure history); 2 = it shifts the
number by more than its usual uncertainty (density, route, densification,
electrode contact, fit protocol); 1 = it is needed to reproduce or judge the
measurement (AC amplitude, atmosphere, DOI …).

A benchmark entry is scored on the union of the checklists of the records
it was computed from (its separator, the cells and the spectra used); an
item shared by several cells or spectra counts with the fraction of them
that report it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from apps.catalog.models import Cell, ProcessingRoute, Separator
from apps.measurements.models import ImpedanceSpectrum

PRESSED_ROUTES = {
    ProcessingRoute.COLD_PRESSING,
    ProcessingRoute.HOT_PRESSING,
    ProcessingRoute.SPARK_PLASMA_SINTERING,
    ProcessingRoute.DRY_MIXING,
}
HEATED_ROUTES = {ProcessingRoute.SINTERING, ProcessingRoute.HOT_PRESSING, ProcessingRoute.SPARK_PLASMA_SINTERING}
#: A spectrum spanning fewer decades rarely shows both the bulk arc and the electrode response.
MIN_FREQUENCY_DECADES = 5.0
MIN_POINTS_PER_DECADE = 5.0


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    weight: int
    why: str
    satisfied: Callable[[Any], bool]
    applies: Callable[[Any], bool] = field(default=lambda record: True)


@dataclass(frozen=True)
class ItemOutcome:
    """One checklist item judged on one or more records (`fraction` of them report it)."""

    key: str
    label: str
    weight: int
    why: str
    fraction: float

    @property
    def satisfied(self) -> bool:
        return self.fraction >= 1.0


@dataclass(frozen=True)
class Completeness:
    """score 0–1; `missing` lists the human-readable items not (fully) reported; `checklist` every applicable item."""

    score: float
    missing: list[str]
    checklist: list[ItemOutcome]


def _filled(value) -> bool:
    return value not in (None, "")


def _source_doi(record) -> bool:
    return bool(record.source_id and record.source and record.source.doi)


def _components_with_fractions(separator: Separator) -> bool:
    components = list(separator.components.all())
    if not components:
        return False
    return len(components) == 1 or all(c.fraction is not None for c in components)


def _densification(separator: Separator) -> bool:
    route = separator.processing_route
    needed = []
    if route in PRESSED_ROUTES:
        needed.append(separator.densification_pressure_mpa)
    if route in HEATED_ROUTES:
        needed.append(separator.sintering_temperature_c or separator.densification_temperature_c)
    return all(_filled(v) for v in needed)


def _is_hybrid(separator: Separator) -> bool:
    roles = {c.role for c in separator.components.all()}
    return "polymer_matrix" in roles and "fast_ion_phase" in roles


SEPARATOR_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("thickness", "Separator thickness", 3, "σ = L/(R·A): an error in L is the same error in σ and in ASR.",
                  lambda s: _filled(s.thickness_um)),
    ChecklistItem("thickness_method", "How and when the thickness was measured", 1,
                  "Pressed pellets relax after unloading; nominal and in-cell thickness can differ by 10 % or more.",
                  lambda s: _filled(s.thickness_method) and _filled(s.thickness_measured_when)),
    ChecklistItem("area", "Separator area", 3, "σ = L/(R·A): the geometric area sets the cell constant.",
                  lambda s: _filled(s.area_cm2)),
    ChecklistItem("relative_density", "Relative density or porosity", 2,
                  "Pores block ion paths: a 85 % dense pellet can conduct several times less than a 98 % dense one.",
                  lambda s: _filled(s.relative_density)),
    ChecklistItem("composition", "Composition with phase fractions", 2,
                  "Without the phases and their fractions the family and the comparison group are unknown.",
                  _components_with_fractions),
    ChecklistItem("processing_route", "Processing route", 2,
                  "Cold-pressed, sintered and cast layers of the same material differ by orders of magnitude.",
                  lambda s: _filled(s.processing_route)),
    ChecklistItem("densification", "Densification pressure and temperature", 2,
                  "Densification pressure and temperature decide density and grain-boundary resistance.",
                  _densification, applies=lambda s: s.processing_route in PRESSED_ROUTES | HEATED_ROUTES),
    ChecklistItem("inorganic_fraction", "Inorganic volume fraction (hybrid)", 2,
                  "In hybrids the conduction path depends on the inorganic volume fraction.",
                  lambda s: _filled(s.inorganic_volume_fraction), applies=_is_hybrid),
    ChecklistItem("source_doi", "Source DOI", 1, "Lets a reader check the original paper and its methods.", _source_doi),
)


def _has_pressure_history(cell: Cell) -> bool:
    return len(cell.pressure_steps.all()) >= 1


def _has_measurement_pressure(cell: Cell) -> bool:
    return cell.measurement_pressure_mpa is not None


def _non_blocking(cell: Cell) -> bool:
    return cell.configuration != Cell.Configuration.BLOCKING


def _interfaces_prepared(cell: Cell) -> bool:
    interfaces = list(cell.interfaces.all())
    return bool(interfaces) and all(
        any(_filled(v) for v in (i.polishing, i.heat_treatment_temperature_c, i.coating_method, i.interlayer_material_id,
                                 i.preparation_notes, i.preparation_atmosphere))
        for i in interfaces
    )


CELL_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("electrode_contact", "Electrode type (contact)", 2,
                  "Blocking and non-blocking electrodes produce different arcs; the fit protocol depends on it.",
                  lambda c: _filled(c.electrode_contact)),
    ChecklistItem("active_area", "Active area of the cell", 2, "ASR = R·A needs the area that carries the current.",
                  lambda c: _filled(c.active_area_cm2) or bool(c.separator_id and c.separator.area_cm2)),
    ChecklistItem("pressure_history", "Stack-pressure history", 3,
                  "Densification and stack pressure change contact, density and interfacial resistance.",
                  _has_pressure_history),
    ChecklistItem("measurement_pressure", "Stack pressure during measurement", 2,
                  "Interfacial and even bulk resistance fall with stack pressure; unstated, the number cannot be compared.",
                  _has_measurement_pressure),
    ChecklistItem("housing", "Cell housing", 1, "A die under load and a coin cell hold different pressures.",
                  lambda c: _filled(c.housing)),
    ChecklistItem("lead_resistance", "Lead (short-circuit) resistance of the empty cell", 1,
                  "Leads and plungers add to the high-frequency intercept; for a thin or hot separator they are a "
                  "large share of it unless measured and subtracted.",
                  lambda c: c.lead_resistance_ohm is not None),
    ChecklistItem("interface_preparation", "Interface preparation", 2,
                  "Polishing, heat treatment or coatings change the interfacial resistance by orders of magnitude.",
                  _interfaces_prepared, applies=_non_blocking),
    ChecklistItem("source_doi", "Cell source DOI", 1, "Lets a reader check the original paper and its methods.",
                  _source_doi),
)


def _frequency_range_ok(spectrum: ImpedanceSpectrum) -> bool:
    import math

    decades = math.log10(spectrum.frequency_max_hz / spectrum.frequency_min_hz)
    ppd = spectrum.points_per_decade or (spectrum.n_points / decades if decades > 0 else 0)
    return decades >= MIN_FREQUENCY_DECADES and ppd >= MIN_POINTS_PER_DECADE


def _standard_fit(spectrum: ImpedanceSpectrum) -> bool:
    # A spectrum's fits are visible exactly when it is (`fits_prefetch`): its visible fits are all of them.
    prefetched = getattr(spectrum, "visible_fits", None)
    if prefetched is None and "fits" in getattr(spectrum, "_prefetched_objects_cache", {}):
        prefetched = spectrum.fits.all()
    if prefetched is not None:
        return any(f.protocol.is_standard and f.status == "succeeded" for f in prefetched)
    # One query, not one for the fits and one per fit for its protocol.
    return spectrum.fits.filter(protocol__is_standard=True, status="succeeded").exists()


SPECTRUM_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("temperature", "Measurement temperature", 3,
                  "Ionic conductivity changes by ~5–10 % per kelvin near room temperature.",
                  lambda s: _filled(s.temperature_c)),
    ChecklistItem("stack_pressure", "Stack pressure during the spectrum", 2,
                  "Contact and interfacial resistance depend on the pressure applied while measuring.",
                  lambda s: _filled(s.stack_pressure_mpa)),
    ChecklistItem("ac_amplitude", "AC amplitude", 1, "Too large an amplitude leaves the linear regime and bends arcs.",
                  lambda s: _filled(s.ac_amplitude_mv)),
    ChecklistItem("frequency_range", f"Frequency range ≥ {MIN_FREQUENCY_DECADES:g} decades, ≥ {MIN_POINTS_PER_DECADE:g} points/decade", 1,
                  "A narrow or sparse window hides the bulk arc or the electrode tail, so the fit cannot separate them.",
                  _frequency_range_ok),
    ChecklistItem("equilibration", "Temperature equilibration time", 1,
                  "A spectrum taken before the cell reached temperature belongs to another temperature.",
                  lambda s: _filled(s.equilibration_time_min)),
    ChecklistItem("atmosphere", "Atmosphere", 1, "Moisture degrades sulfides and garnets; the atmosphere must be known.",
                  lambda s: _filled(s.atmosphere)),
    ChecklistItem("raw_file", "Original instrument file", 1, "The raw file lets anyone re-parse and re-fit the data.",
                  lambda s: bool(s.raw_file_id)),
    ChecklistItem("fit_protocol", "Fit under a standard protocol", 2,
                  "Only spectra fitted the same way give comparable resistances.", _standard_fit),
)

CHECKLISTS: dict[type, tuple[ChecklistItem, ...]] = {
    Separator: SEPARATOR_CHECKLIST,
    Cell: CELL_CHECKLIST,
    ImpedanceSpectrum: SPECTRUM_CHECKLIST,
}


def _checklist_for(record) -> tuple[ChecklistItem, ...]:
    for model, checklist in CHECKLISTS.items():
        if isinstance(record, model):
            return checklist
    raise TypeError(f"no reporting checklist for {type(record).__name__}")


def _summarise(outcomes: list[ItemOutcome]) -> Completeness:
    total = sum(o.weight for o in outcomes)
    got = sum(o.weight * o.fraction for o in outcomes)
    score = round(got / total, 4) if total else 0.0
    missing = []
    for o in outcomes:
        if not o.satisfied:
            missing.append(o.label if o.fraction == 0 else f"{o.label} (reported for {o.fraction:.0%})")
    return Completeness(score=min(max(score, 0.0), 1.0), missing=missing, checklist=outcomes)


def _judge(records: list, checklist: Iterable[ChecklistItem], prefix: str = "") -> list[ItemOutcome]:
    outcomes = []
    for item in checklist:
        applicable = [r for r in records if item.applies(r)]
        if not applicable:
            continue
        fraction = sum(1 for r in applicable if item.satisfied(r)) / len(applicable)
        outcomes.append(ItemOutcome(f"{prefix}{item.key}", item.label, item.weight, item.why, fraction))
    return outcomes


def completeness(record) -> Completeness:
    """Reporting completeness of one separator, cell or spectrum."""
    return _summarise(_judge([record], _checklist_for(record)))


def completeness_of(record) -> tuple[float, list[str]]:
    """(score 0–1, missing items) of one record: what the API's `completeness` field shows."""
    result = completeness(record)
    return result.score, list(result.missing)


def combined_completeness(*, separators=(), cells=(), spectra=()) -> Completeness:
    """Completeness of a number computed from several records: the union of their checklists.

    A kind with no record at all (a conductivity with no spectrum) counts every item
    of that kind as missing, since the number then rests on nothing reported.
    """
    outcomes: list[ItemOutcome] = []
    for prefix, records, checklist in (
        ("separator.", list(separators), SEPARATOR_CHECKLIST),
        ("cell.", list(cells), CELL_CHECKLIST),
        ("spectrum.", list(spectra), SPECTRUM_CHECKLIST),
    ):
        if records:
            outcomes.extend(_judge(records, checklist, prefix))
    return _summarise(outcomes)


def checklist_table() -> list[dict]:
    """The documented checklist, for the dashboard's "how is this scored" section."""
    rows = []
    for kind, checklist in (("Separator", SEPARATOR_CHECKLIST), ("Cell", CELL_CHECKLIST), ("Spectrum", SPECTRUM_CHECKLIST)):
        rows.extend({"kind": kind, "label": i.label, "weight": i.weight, "why": i.why} for i in checklist)
    return rows
