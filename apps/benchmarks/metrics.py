"""Comparable metrics of a separator or a cell, from the stored analysis rows.

Inputs are the fits under *standard* protocols (one per spectrum, see
`standard_fits`), the `Conductivity` rows computed from them, the stored
`ArrheniusFit` rows, `DCPolarisation` and `CriticalCurrentDensityTest`.

Whose data counts: a separator's metrics read the cells of its own group and
the cells other groups' members had accepted (`selectors.cells_of_separator`),
and of their records only those at least as visible as the separator; a
cell's metrics only its records at least as visible as the cell. The stored
separator-wide `ArrheniusFit` is used only when nothing was left out;
otherwise the Arrhenius fit is made here from the rows that count.

Metrics and how each is obtained
--------------------------------
σ at 25 °C (total, bulk, grain boundary), S/cm
    Measured: spectra at 25 ± 2 °C; several are averaged, the standard error is
    the larger of the propagated one (√Σδσᵢ² / n) and the scatter (s/√n).
    Otherwise from the Arrhenius fit (stored under a standard protocol, or
    fitted here when ≥ 3 temperatures exist), flagged "extrapolated" when
    25 °C lies outside the measured range.
Activation energy, eV
    From the same Arrhenius fit (σT form preferred), with its form, kind,
    temperature range and a 95 % CI from Student's t with n − 2 dof.
Separator ASR at its real thickness, Ω·cm²
    ASR = L / σ_total(25 °C); (δASR/ASR)² = (δσ/σ)² + (δL/L)².
Interfacial ASR, Ω·cm²
    R_interface · A from the standard fit of the cell's reference spectrum
    (closest to 25 °C, earliest cycle); halved for symmetric cells, which
    have two identical interfaces in series.
Impedance growth per cycle / per hour, Ω·cm² per cycle or per h
    Ordinary least-squares slope of the interfacial ASR (or, without an
    interface element, the whole cell's resistive ASR) against cycle index or
    elapsed time, over spectra at comparable temperature (± 2 °C) and pressure
    (within a factor 2); stderr from the regression, CI with n − 2 dof.
Electronic conductivity, S/cm
    σ_e = L / (A · ΔV / I_ss) per DC polarisation; averaged like σ.
Critical current density, mA/cm²
    The current density at failure; the true CCD lies between the last step
    survived and the failing one, so stderr = step/√12 (uniform over one
    step) and the interval is [CCD − step, CCD]. Protocol kept in `details`.

Flags (registry `apps.common.flags`; this app's in `flags.FLAGS`): blocking ones keep an entry off the
leaderboards. Intervals of strictly positive quantities (σ, ASR) are symmetric in ln x
(`statistics.ci95_positive`), so no bound goes below zero. An Arrhenius series leaves out the spectra
whose fit carries a blocking flag (noted as "points_left_out"); the entry carries the flags of the
points it rests on.

Layout: the formulas are in `statistics` (pure numbers, no Django), the queries in `selectors`,
the flag rules in `flags`; this module reads the rows through them and assembles `MetricValue`s,
which `services.recompute_entries` stores.
"""
from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

import numpy as np

from apps.accounts.references import covers
from apps.analysis.eis import derived as eis_derived
from apps.analysis.models import Conductivity, ConductivityKind, FitResult
from apps.catalog.models import Cell, MaterialFamily, Separator, SeparatorComponent

from . import selectors
from .flags import RESISTOR_NAME, blocking, fit_flags, joined_notes, merge_flags, pressure_history_flag
from .models import METRIC_UNITS, Metric
from .selectors import standard_fits
from .statistics import (
    ROOM_TEMPERATURE_C,
    TEMPERATURE_TOLERANCE_C,
    ci95,
    ci95_positive,
    combine,
    median_or_none,
    most_common,
    quadrature_sum,
    separator_asr,
)

#: Physically plausible σ(25 °C), S/cm, per family: wide ranges spanning the published
#: values (OBELiX and reviews); a value outside is almost always a unit or geometry error.
PLAUSIBLE_SIGMA_25C_S_PER_CM: dict[str, tuple[float, float]] = {
    MaterialFamily.GARNET: (1e-10, 5e-3),
    MaterialFamily.NASICON: (1e-10, 1e-2),
    MaterialFamily.PEROVSKITE: (1e-10, 1e-2),
    MaterialFamily.ARGYRODITE: (1e-7, 5e-2),
    MaterialFamily.THIOPHOSPHATE: (1e-9, 5e-2),
    MaterialFamily.HALIDE: (1e-10, 2e-2),
    MaterialFamily.HYDRIDE: (1e-11, 2e-2),
    MaterialFamily.POLYMER: (1e-11, 1e-2),
    MaterialFamily.OTHER: (1e-13, 1e-1),
}

SIGMA_METRICS = {
    ConductivityKind.TOTAL: Metric.SIGMA_25C_TOTAL,
    ConductivityKind.BULK: Metric.SIGMA_25C_BULK,
    ConductivityKind.GRAIN_BOUNDARY: Metric.SIGMA_25C_GRAIN_BOUNDARY,
}

@dataclass
class MetricValue:
    """One computed metric before it is stored as a BenchmarkEntry."""

    metric: str
    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    temperature_c: float | None = None
    stack_pressure_mpa: float | None = None
    thickness_um: float | None = None
    protocol_id: int | None = None
    flags: dict[str, str] = field(default_factory=dict)  # code -> note
    details: dict = field(default_factory=dict)
    cells: list = field(default_factory=list)
    spectra: list = field(default_factory=list)

    @property
    def unit(self) -> str:
        return METRIC_UNITS[Metric(self.metric)]

    @property
    def blocking(self) -> bool:
        return blocking(self.flags)


def resistance_for(fit: FitResult, roles: set[str]) -> tuple[float, float | None] | None:
    """Sum of the resistor parameters whose element has one of `roles` (as the pipeline assigned them; arcs
    hidden under the electrode spike left out), with the quadrature-summed stderr."""
    hidden = fit.hidden_elements
    names = [
        n for n, r in fit.roles.items()
        if r in roles and RESISTOR_NAME.match(n) and n in fit.parameters and n not in hidden
    ]
    if not names:
        return None
    return quadrature_sum([fit.parameters[n] for n in names], [(fit.stderr or {}).get(n) for n in names])


INTERFACE_ROLES = {"interface"}


def cell_area(cell: Cell) -> float | None:
    return cell.active_area_cm2 or (cell.separator.area_cm2 if cell.separator_id else None)


def interfaces_in_series(cell: Cell) -> int:
    """Identical interfaces the current crosses: two in a symmetric cell."""
    return 2 if cell.configuration == Cell.Configuration.SYMMETRIC else 1


@dataclass(frozen=True)
class InterfacialAsr:
    """ASR of one interface, Ω·cm², with the resistance and count it came from."""

    asr_ohm_cm2: float
    stderr_ohm_cm2: float | None
    resistance_ohm: float
    resistance_stderr_ohm: float | None
    area_cm2: float
    interfaces_in_series: int


def interfacial_asr(fit: FitResult, cell: Cell) -> InterfacialAsr | None:
    """Area-specific resistance of *one* interface: ASR = R_interface · A / n.

    R_interface is the sum of the resistors with role "interface" (``resistance_for``); A the cell's
    active area (else the separator's); n the identical interfaces the current crosses in series —
    two in a symmetric Li|SE|Li cell (both electrodes contribute equally), one otherwise. The
    benchmarks, the cell and interface pages and their plots all use this function. None when the fit
    has no interface resistance or the cell no area.
    """
    area = cell_area(cell)
    r = resistance_for(fit, INTERFACE_ROLES)
    if r is None or not area:
        return None
    n = interfaces_in_series(cell)
    r_ohm, r_se = r
    return InterfacialAsr(
        asr_ohm_cm2=r_ohm * area / n, stderr_ohm_cm2=r_se * area / n if r_se is not None else None,
        resistance_ohm=r_ohm, resistance_stderr_ohm=r_se, area_cm2=float(area), interfaces_in_series=n,
    )


# ---------------------------------------------------------------------------
# Separator metrics
# ---------------------------------------------------------------------------


def separator_family(separator: Separator) -> str:
    material = separator.primary_material
    return material.family if material is not None else ""


def _is_hybrid(separator: Separator) -> bool:
    roles = {c.role for c in separator.components.all()}
    return SeparatorComponent.Role.POLYMER_MATRIX in roles


def plausible_range(separator: Separator, family: str) -> tuple[float, float]:
    low, high = PLAUSIBLE_SIGMA_25C_S_PER_CM.get(family or MaterialFamily.OTHER, PLAUSIBLE_SIGMA_25C_S_PER_CM["other"])
    if _is_hybrid(separator):
        p_low, p_high = PLAUSIBLE_SIGMA_25C_S_PER_CM[MaterialFamily.POLYMER]
        low, high = min(low, p_low), max(high, p_high)
    return low, high


def _arrhenius_from_rows(rows: list[Conductivity]):
    """Arrhenius fit of rows (with a temperature), or None with fewer than 3 temperatures."""
    usable = [r for r in rows if r.temperature_c is not None]
    if len({round(r.temperature_c, 6) for r in usable}) < 3:
        return None
    stderr = [r.conductivity_stderr_s_per_cm for r in usable]
    use_stderr = all(s is not None and s > 0 for s in stderr)
    try:
        return eis_derived.fit_arrhenius(
            [r.temperature_c for r in usable], [r.conductivity_s_per_cm for r in usable],
            stderr if use_stderr else None, form="sigma_t",
        )
    except (ValueError, np.linalg.LinAlgError):
        return None


@dataclass
class _Arrhenius:
    """An Arrhenius result, stored or fitted here, in one shape."""

    form: str
    kind: str
    activation_energy_ev: float | None
    activation_energy_stderr_ev: float | None
    sigma_25c: float | None
    sigma_25c_ci: tuple[float | None, float | None]
    temperature_min_c: float
    temperature_max_c: float
    n_points: int
    r_squared: float | None
    extrapolated: bool
    source: str
    protocol_id: int | None
    #: σ (S/cm) of the points the fit rests on, to find their rows (None: every row in the range).
    sigmas: tuple[float, ...] | None = None

    def rests_on(self, row: Conductivity) -> bool:
        """True when the row is one of the fitted points (its temperature in the fitted range, its σ a point)."""
        if row.temperature_c is None:
            return False
        if not (self.temperature_min_c - 1e-6 <= row.temperature_c <= self.temperature_max_c + 1e-6):
            return False
        if self.sigmas is None:
            return True
        # A bisection in the sorted points, not a scan of all of them: a series may hold tens of thousands.
        sigma, ordered = row.conductivity_s_per_cm, self._sorted_sigmas()
        start = bisect.bisect_left(ordered, sigma - 2e-9 * abs(sigma))
        for s in ordered[start:]:
            if s > sigma + 2e-9 * abs(sigma):
                return False
            if abs(sigma - s) <= 1e-9 * abs(s):
                return True
        return False

    def _sorted_sigmas(self) -> list[float]:
        ordered = self.__dict__.get("_sorted")
        if ordered is None:
            ordered = self.__dict__["_sorted"] = sorted(self.sigmas)
        return ordered


def _stored_arrhenius(separator: Separator, kind: str) -> _Arrhenius | None:
    candidates = [
        a for a in selectors.standard_arrhenius_fits(separator=separator, kind=kind)
        if a.form in ("sigma_t", "sigma") and a.activation_energy_ev is not None
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda a: (a.n_points, a.form == "sigma_t", a.protocol.version, a.pk))
    return _Arrhenius(
        form=best.form, kind=kind, activation_energy_ev=best.activation_energy_ev,
        activation_energy_stderr_ev=best.activation_energy_stderr_ev, sigma_25c=best.sigma_25c_s_per_cm,
        sigma_25c_ci=(best.sigma_25c_ci_low_s_per_cm, best.sigma_25c_ci_high_s_per_cm),
        temperature_min_c=best.temperature_min_c, temperature_max_c=best.temperature_max_c, n_points=best.n_points,
        r_squared=best.r_squared, extrapolated=best.extrapolated_25c, source=f"Arrhenius fit #{best.pk}",
        protocol_id=best.protocol_id,
        sigmas=tuple(float(p[1]) for p in best.points if isinstance(p, (list, tuple)) and len(p) > 1) or None,
    )


def _arrhenius(separator: Separator, kind: str, rows: list[Conductivity], fit_flag_map, *,
               use_stored: bool = True) -> _Arrhenius | None:
    stored = _stored_arrhenius(separator, kind) if use_stored else None
    if stored is not None:
        return stored
    rows = [r for r in rows if not blocking(fit_flag_map.get(r.fit_id, {}))]
    result = _arrhenius_from_rows(rows)
    if result is None:
        return None
    protocols = [r.fit.protocol_id for r in rows]
    return _Arrhenius(
        form=result.form, kind=kind, activation_energy_ev=result.activation_energy_ev,
        activation_energy_stderr_ev=result.activation_energy_stderr_ev, sigma_25c=result.sigma_25c_s_per_cm,
        sigma_25c_ci=result.sigma_25c_ci95_s_per_cm, temperature_min_c=result.temperature_min_c,
        temperature_max_c=result.temperature_max_c, n_points=result.n_points, r_squared=result.r_squared,
        extrapolated=result.extrapolated_25c, source="Arrhenius fit of the stored conductivities",
        protocol_id=most_common(protocols), sigmas=tuple(r.conductivity_s_per_cm for r in rows),
    )


def _series_flags(arrhenius: _Arrhenius, rows: list[Conductivity], fit_flag_map) -> tuple[list, dict[str, str]]:
    """(rows the Arrhenius fit rests on, their flags), with "points_left_out" naming the spectra of the kind
    whose blocking flags kept them out of the series."""
    used = [r for r in rows if arrhenius.rests_on(r)]
    flags: dict[str, str] = {}
    for r in used:
        merge_flags(flags, fit_flag_map.get(r.fit_id, {}))
    used_pks = {r.pk for r in used}  # a set: `r not in used` compares every pair of rows
    left_out = [r for r in rows if r.pk not in used_pks and blocking(fit_flag_map.get(r.fit_id, {}))]
    if left_out:
        flags["points_left_out"] = joined_notes(
            f"spectrum {r.spectrum_id} at {r.temperature_c:g} °C ("
            + ", ".join(sorted(c for c in fit_flag_map.get(r.fit_id, {}) if blocking([c]))) + ")"
            for r in left_out if r.temperature_c is not None)
    return used, flags


def _sigma_25c(separator, kind, rows, fit_flag_map, arrhenius) -> MetricValue | None:
    near = [r for r in rows if r.temperature_c is not None
            and abs(r.temperature_c - ROOM_TEMPERATURE_C) <= TEMPERATURE_TOLERANCE_C]
    flags: dict[str, str] = {}
    if near:
        c = combine([r.conductivity_s_per_cm for r in near], [r.conductivity_stderr_s_per_cm for r in near])
        low, high = ci95_positive(c.mean, c.stderr, c.dof)
        used = near
        value = MetricValue(
            metric=SIGMA_METRICS[kind], value=c.mean, stderr=c.stderr, ci_low=low, ci_high=high,
            method=f"measured at 25 ± {TEMPERATURE_TOLERANCE_C:g} °C (n = {c.n})",
            temperature_c=sum(r.temperature_c for r in near) / len(near),
            details={"n_spectra": c.n, "conductivity_ids": [r.pk for r in near],
                     "temperatures_c": [r.temperature_c for r in near]},
        )
    elif arrhenius is not None and arrhenius.sigma_25c:
        low, high = arrhenius.sigma_25c_ci
        stderr = eis_derived.stderr_from_log_interval(arrhenius.sigma_25c, low, high, arrhenius.n_points)
        used, flags = _series_flags(arrhenius, rows, fit_flag_map)
        value = MetricValue(
            metric=SIGMA_METRICS[kind], value=arrhenius.sigma_25c, stderr=stderr, ci_low=low, ci_high=high,
            method=f"{arrhenius.source} ({arrhenius.form}, {arrhenius.temperature_min_c:g}–"
                   f"{arrhenius.temperature_max_c:g} °C, n = {arrhenius.n_points})",
            temperature_c=ROOM_TEMPERATURE_C,
            details={"arrhenius_form": arrhenius.form, "temperature_min_c": arrhenius.temperature_min_c,
                     "temperature_max_c": arrhenius.temperature_max_c, "n_points": arrhenius.n_points},
        )
        if arrhenius.extrapolated:
            flags["extrapolated"] = (f"measured {arrhenius.temperature_min_c:g}–{arrhenius.temperature_max_c:g} °C")
    else:
        return None
    if near:
        for r in used:
            merge_flags(flags, fit_flag_map.get(r.fit_id, {}))
    family = separator_family(separator)
    low_ok, high_ok = plausible_range(separator, family)
    if not (low_ok <= value.value <= high_ok):
        flags["implausible_for_family"] = (
            f"{value.value:.2g} S/cm outside {low_ok:.0e}–{high_ok:.0e} S/cm for {family or 'unknown family'}")
    value.flags = flags
    value.thickness_um = separator.thickness_um
    protocols = [r.fit.protocol_id for r in used]
    value.protocol_id = most_common(protocols)
    value.spectra = [r.spectrum for r in used]
    value.stack_pressure_mpa = median_or_none([r.spectrum.stack_pressure_mpa for r in used])
    return value


def _at_least_as_visible(record, subject) -> bool:
    return covers(record, subject)


def separator_metrics(separator: Separator, *, cells: list[Cell] | None = None, keep=None) -> list[MetricValue]:
    """Every metric that the stored rows allow for this separator.

    By default from the cells and records that count for its entries (module docstring). A
    round robin passes one group's `cells` and `keep(record) -> bool` (what its viewer may see).
    """
    if cells is None:
        cells = selectors.cells_of_separator(separator)
    if keep is None:
        keep = functools.partial(_at_least_as_visible, subject=separator)
    all_spectra = selectors.spectra_of_cells(cells)
    spectra = [s for s in all_spectra if keep(s)]
    use_stored = len(spectra) == len(all_spectra) and len(cells) == len(selectors.cells_on_separator(separator))
    fits = standard_fits(spectra)
    spectra_by_id = {s.pk: s for s in spectra}
    rows = selectors.conductivities_of_fits(fits.values())
    for row in rows:
        row.spectrum = spectra_by_id[row.spectrum_id]
    fit_flag_map = {}
    for fit in fits.values():
        spectrum = spectra_by_id[fit.spectrum_id]
        thickness_um = separator.thickness_um
        area = spectrum.cell.active_area_cm2 or separator.area_cm2
        fit_flag_map[fit.pk] = fit_flags(fit, spectrum, thickness_cm=thickness_um * 1e-4 if thickness_um else None,
                                         area_cm2=area)
    history_flag = pressure_history_flag(cells)
    out: list[MetricValue] = []

    sigma_total = None
    arrhenius_by_kind: dict[str, _Arrhenius | None] = {}
    for kind in (ConductivityKind.TOTAL, ConductivityKind.BULK, ConductivityKind.GRAIN_BOUNDARY):
        kind_rows = [r for r in rows if r.kind == kind]
        arrhenius_by_kind[kind] = _arrhenius(separator, kind, kind_rows, fit_flag_map, use_stored=use_stored)
        value = _sigma_25c(separator, kind, kind_rows, fit_flag_map, arrhenius_by_kind[kind])
        if value is None:
            continue
        merge_flags(value.flags, history_flag)
        value.cells = cells
        out.append(value)
        if kind == ConductivityKind.TOTAL:
            sigma_total = value

    arrhenius = arrhenius_by_kind.get(ConductivityKind.TOTAL) or arrhenius_by_kind.get(ConductivityKind.BULK)
    if arrhenius is not None and arrhenius.activation_energy_ev is not None:
        stderr = arrhenius.activation_energy_stderr_ev
        low, high = ci95(arrhenius.activation_energy_ev, stderr, max(arrhenius.n_points - 2, 1))
        kind_rows, flags = _series_flags(arrhenius, [r for r in rows if r.kind == arrhenius.kind], fit_flag_map)
        merge_flags(flags, history_flag)
        out.append(MetricValue(
            metric=Metric.ACTIVATION_ENERGY, value=arrhenius.activation_energy_ev, stderr=stderr, ci_low=low,
            ci_high=high, method=f"{arrhenius.source}, {dict(_FORMS).get(arrhenius.form, arrhenius.form)}",
            thickness_um=separator.thickness_um, protocol_id=arrhenius.protocol_id, flags=flags, cells=cells,
            spectra=[r.spectrum for r in kind_rows],
            details={"arrhenius_form": arrhenius.form, "kind": arrhenius.kind,
                     "temperature_min_c": arrhenius.temperature_min_c, "temperature_max_c": arrhenius.temperature_max_c,
                     "n_points": arrhenius.n_points, "r_squared": arrhenius.r_squared},
        ))

    if sigma_total is not None and separator.thickness_um:
        out.append(_separator_asr(separator, sigma_total))

    electronic = _electronic_conductivity(separator, cells, keep)
    if electronic is not None:
        merge_flags(electronic.flags, history_flag)
        out.append(electronic)
    return out


_FORMS = (("sigma_t", "σT = A·exp(−Ea/kT)"), ("sigma", "σ = σ0·exp(−Ea/kT)"))


def _separator_asr(separator: Separator, sigma: MetricValue) -> MetricValue:
    asr = separator_asr(
        thickness_um=separator.thickness_um, thickness_stderr_um=separator.thickness_stderr_um,
        sigma_s_per_cm=sigma.value, sigma_stderr_s_per_cm=sigma.stderr, sigma_ci_low_s_per_cm=sigma.ci_low,
        sigma_ci_high_s_per_cm=sigma.ci_high,
    )
    return MetricValue(
        metric=Metric.SEPARATOR_ASR, value=asr.asr_ohm_cm2, stderr=asr.stderr_ohm_cm2, ci_low=asr.ci_low_ohm_cm2,
        ci_high=asr.ci_high_ohm_cm2,
        method=f"L/σ with L = {separator.thickness_um:g} µm and σ {sigma.method}",
        temperature_c=sigma.temperature_c, stack_pressure_mpa=sigma.stack_pressure_mpa,
        thickness_um=separator.thickness_um, protocol_id=sigma.protocol_id, flags=dict(sigma.flags),
        cells=sigma.cells, spectra=sigma.spectra,
        details={"sigma_25c_s_per_cm": sigma.value, "thickness_um": separator.thickness_um,
                 "thickness_stderr_um": separator.thickness_stderr_um},
    )


def _electronic_conductivity(separator: Separator, cells, keep) -> MetricValue | None:
    if not separator.thickness_um:
        return None
    values, errors, used = [], [], []
    rel_l = (separator.thickness_stderr_um / separator.thickness_um) if separator.thickness_stderr_um else 0.0
    for dc in filter(keep, selectors.dc_polarisations_of_cells(cells)):
        area = dc.cell.active_area_cm2 or separator.area_cm2
        if not area:
            continue
        sigma_e = eis_derived.electronic_conductivity(
            separator.thickness_um * 1e-4, area, abs(dc.voltage_v), dc.steady_current_a)
        values.append(sigma_e)
        errors.append(sigma_e * rel_l)
        used.append(dc)
    if not values:
        return None
    c = combine(values, errors)
    stderr = c.stderr if (c.stderr or c.n > 1) else (c.stderr if rel_l else None)
    low, high = ci95_positive(c.mean, stderr, c.dof)
    return MetricValue(
        metric=Metric.ELECTRONIC_CONDUCTIVITY, value=c.mean, stderr=stderr, ci_low=low, ci_high=high,
        method=f"DC polarisation, σe = L·I_ss/(A·ΔV) (n = {c.n})",
        temperature_c=median_or_none([d.temperature_c for d in used]),
        stack_pressure_mpa=median_or_none([d.stack_pressure_mpa for d in used]),
        thickness_um=separator.thickness_um, cells=cells,
        details={"dc_polarisation_ids": [d.pk for d in used], "voltages_v": [d.voltage_v for d in used],
                 "steady_currents_a": [d.steady_current_a for d in used]},
    )
