"""Benchmark metrics of one cell: interfacial ASR at stated pressure and temperature, impedance growth
per cycle or hour, critical current density. The shared value type and the interfacial-ASR reading of a
fit are in `metrics`; this module assembles a cell's values from them."""
from __future__ import annotations

from apps.accounts.references import covers
from apps.catalog.models import Cell
from apps.measurements.models import CriticalCurrentDensityTest, ImpedanceSpectrum

from . import selectors
from .flags import fit_flags, merge_flags, pressure_history_flag
from .metrics import INTERFACE_ROLES, MetricValue, cell_area, interfaces_in_series, interfacial_asr, resistance_for
from .models import Metric
from .selectors import standard_fits
from .statistics import (
    ROOM_TEMPERATURE_C,
    TEMPERATURE_TOLERANCE_C,
    ccd_interval,
    ci95_positive,
    linear_trend,
    pressures_comparable,
    temperatures_comparable,
)

CELL_RESISTANCE_ROLES = {"bulk", "grain_boundary", "total", "interface"}


def _reference_key(spectrum: ImpedanceSpectrum):
    temperature_gap = abs(spectrum.temperature_c - ROOM_TEMPERATURE_C) if spectrum.temperature_c is not None else 1e9
    return (
        temperature_gap > TEMPERATURE_TOLERANCE_C,
        spectrum.cycle_index if spectrum.cycle_index is not None else 0,
        spectrum.elapsed_time_h if spectrum.elapsed_time_h is not None else 0.0,
        temperature_gap,
        spectrum.pk,
    )


def _comparable(reference: ImpedanceSpectrum, other: ImpedanceSpectrum) -> bool:
    if not temperatures_comparable(reference.temperature_c, other.temperature_c):
        return False
    p, q = reference.stack_pressure_mpa, other.stack_pressure_mpa
    return not (p and q) or pressures_comparable(p, q)


def cell_metrics(cell: Cell) -> list[MetricValue]:
    """Interfacial ASR, impedance growth and CCD of one cell."""
    cell = selectors.cell_for_metrics(cell_id=cell.pk)
    out: list[MetricValue] = []
    history_flag = pressure_history_flag([cell])
    area = cell_area(cell)
    spectra = selectors.spectra_of_cells([cell], visible_with=cell)
    fits = standard_fits(spectra)
    separator = cell.separator
    thickness_cm = separator.thickness_um * 1e-4 if separator is not None and separator.thickness_um else None
    fitted = [s for s in spectra if s.pk in fits]

    if area and fitted and cell.configuration != Cell.Configuration.BLOCKING:
        with_interface = [s for s in fitted if resistance_for(fits[s.pk], INTERFACE_ROLES) is not None]
        if with_interface:
            reference = min(with_interface, key=_reference_key)
            fit = fits[reference.pk]
            one = interfacial_asr(fit, cell)
            r_ohm, r_se, n_if = one.resistance_ohm, one.resistance_stderr_ohm, one.interfaces_in_series
            asr, stderr = one.asr_ohm_cm2, one.stderr_ohm_cm2
            low, high = ci95_positive(asr, stderr)
            flags = fit_flags(fit, reference, thickness_cm=thickness_cm, area_cm2=area)
            merge_flags(flags, history_flag)
            out.append(MetricValue(
                metric=Metric.INTERFACIAL_ASR, value=asr, stderr=stderr, ci_low=low, ci_high=high,
                method=f"R_interface·A{' / 2 (two interfaces)' if n_if == 2 else ''} from spectrum {reference.pk}",
                temperature_c=reference.temperature_c,
                stack_pressure_mpa=reference.stack_pressure_mpa if reference.stack_pressure_mpa is not None
                else cell.measurement_pressure_mpa,
                thickness_um=separator.thickness_um if separator else None, protocol_id=fit.protocol_id,
                flags=flags, cells=[cell], spectra=[reference],
                details={"resistance_ohm": r_ohm, "resistance_stderr_ohm": r_se, "area_cm2": area,
                         "interfaces_in_series": n_if, "spectrum_id": reference.pk, "fit_id": fit.pk,
                         "cycle_index": reference.cycle_index},
            ))

    out.extend(_growth(cell, fitted, fits, area, thickness_cm, history_flag))
    ccd = _ccd(cell)
    if ccd is not None:
        merge_flags(ccd.flags, history_flag)
        out.append(ccd)
    for value in out:
        value.cells = value.cells or [cell]
    return out


def _growth(cell, fitted, fits, area, thickness_cm, history_flag) -> list[MetricValue]:
    if not area or len(fitted) < 3:
        return []
    use_interface = cell.configuration != Cell.Configuration.BLOCKING and all(
        resistance_for(fits[s.pk], INTERFACE_ROLES) is not None for s in fitted)
    roles = INTERFACE_ROLES if use_interface else CELL_RESISTANCE_ROLES
    n_if = interfaces_in_series(cell) if use_interface else 1
    quantity = "interfacial ASR" if use_interface else "cell resistance × area"
    points = []
    for s in fitted:
        r = resistance_for(fits[s.pk], roles)
        if r is not None:
            points.append((s, r[0] * area / n_if))
    if len(points) < 3:
        return []
    reference = min((s for s, _ in points), key=_reference_key)
    points = [(s, v) for s, v in points if _comparable(reference, s)]
    out = []
    for metric, attribute, unit_label in (
        (Metric.IMPEDANCE_GROWTH_PER_CYCLE, "cycle_index", "cycle"),
        (Metric.IMPEDANCE_GROWTH_PER_HOUR, "elapsed_time_h", "h"),
    ):
        series = [(getattr(s, attribute), v, s) for s, v in points if getattr(s, attribute) is not None]
        if len({x for x, _, _ in series}) < 2 or len(series) < 3:
            continue
        trend = linear_trend([x for x, _, _ in series], [v for _, v, _ in series])
        flags: dict[str, str] = {}
        for _, _, s in series:
            merge_flags(flags, fit_flags(fits[s.pk], s, thickness_cm=thickness_cm, area_cm2=area))
        merge_flags(flags, history_flag)
        spectra = [s for _, _, s in series]
        out.append(MetricValue(
            metric=metric, value=trend.slope, stderr=trend.slope_stderr, ci_low=trend.ci_low, ci_high=trend.ci_high,
            method=f"least-squares slope of {quantity} per {unit_label} (n = {trend.n})",
            temperature_c=reference.temperature_c, stack_pressure_mpa=reference.stack_pressure_mpa,
            thickness_um=cell.separator.thickness_um if cell.separator_id else None,
            protocol_id=fits[reference.pk].protocol_id, flags=flags, cells=[cell], spectra=spectra,
            details={"quantity": quantity, "intercept_ohm_cm2": trend.intercept, "r_squared": trend.r_squared,
                     "x": [x for x, _, _ in series], "asr_ohm_cm2": [v for _, v, _ in series],
                     "spectrum_ids": [s.pk for s in spectra]},
        ))
    return out


def ccd_protocol(test: CriticalCurrentDensityTest) -> dict:
    return {
        "initial_current_density_ma_per_cm2": test.initial_current_density_ma_per_cm2,
        "step_ma_per_cm2": test.step_ma_per_cm2,
        "capacity_per_half_cycle_mah_per_cm2": test.capacity_per_half_cycle_mah_per_cm2,
        "half_cycle_duration_h": test.half_cycle_duration_h,
        "failure_rule": test.failure_rule,
        "failure_voltage_limit_v": test.failure_voltage_limit_v,
        "temperature_c": test.temperature_c,
        "stack_pressure_mpa": test.stack_pressure_mpa,
    }


def _ccd_protocol_gaps(test: CriticalCurrentDensityTest) -> list[str]:
    gaps = []
    if not test.step_ma_per_cm2:
        gaps.append("step size")
    if test.capacity_per_half_cycle_mah_per_cm2 is None and test.half_cycle_duration_h is None:
        gaps.append("capacity per half-cycle")
    if test.temperature_c is None:
        gaps.append("temperature")
    if test.failure_rule == CriticalCurrentDensityTest.FailureRule.VOLTAGE_LIMIT and test.failure_voltage_limit_v is None:
        gaps.append("failure voltage limit")
    return gaps


def _ccd(cell: Cell) -> MetricValue | None:
    tests = [t for t in selectors.ccd_tests_of_cell(cell)
             if t.critical_current_density_ma_per_cm2 is not None and covers(t, cell)]
    if not tests:
        return None
    test = tests[-1]
    ccd = test.critical_current_density_ma_per_cm2
    step = test.step_ma_per_cm2
    flags = {}
    gaps = _ccd_protocol_gaps(test)
    if gaps:
        flags["ccd_without_protocol"] = "missing " + ", ".join(gaps)
    capacity = test.capacity_per_half_cycle_mah_per_cm2
    protocol_text = f"step {step:g} mA/cm²" + (f", {capacity:g} mAh/cm² per half-cycle" if capacity is not None else
                                                f", {test.half_cycle_duration_h:g} h per half-cycle"
                                                if test.half_cycle_duration_h is not None else "")
    stderr, low, high = ccd_interval(ccd, step)
    return MetricValue(
        metric=Metric.CRITICAL_CURRENT_DENSITY, value=ccd, stderr=stderr, ci_low=low,
        ci_high=high, method=f"CCD test #{test.pk}: {protocol_text}, failure: {test.get_failure_rule_display()}",
        temperature_c=test.temperature_c,
        stack_pressure_mpa=test.stack_pressure_mpa if test.stack_pressure_mpa is not None
        else cell.measurement_pressure_mpa,
        thickness_um=cell.separator.thickness_um if cell.separator_id else None, flags=flags, cells=[cell],
        details={"protocol": ccd_protocol(test), "ccd_test_id": test.pk, "n_tests": len(tests)},
    )
