"""Metrics recovered from synthetic rows with known truth, uncertainty included."""
import math

import numpy as np
import pytest

from apps.analysis.eis.derived import K_B_EV_PER_K
from apps.benchmarks import cell_metrics, metrics
from apps.common import flags as flag_registry
from apps.benchmarks.models import Metric
from tests.benchmarks.bench_factories import (
    ArrheniusFitFactory,
    CCDTestFactory,
    ConductivityFactory,
    DCPolarisationFactory,
    FitFactory,
    KramersKronigCheckFactory,
    StandardProtocolFactory,
)
from tests.factories import CellFactory, PressureStepFactory, SpectrumFactory

pytestmark = pytest.mark.django_db

EA_TRUE_EV = 0.35
SIGMA25_TRUE = 3e-4


def sigma_true(temperature_c: float) -> float:
    """σT = A exp(−Ea/kT) passing through SIGMA25_TRUE at 25 °C."""
    t, t25 = temperature_c + 273.15, 298.15
    return SIGMA25_TRUE * (t25 / t) * math.exp(-EA_TRUE_EV / K_B_EV_PER_K * (1 / t - 1 / t25))


def add_point(cell, temperature_c, sigma, *, rel_err=0.02, kind="total", protocol=None, **spectrum_fields):
    spectrum = SpectrumFactory(cell=cell, group=cell.group, temperature_c=temperature_c, **spectrum_fields)
    fit = FitFactory(spectrum=spectrum, **({"protocol": protocol} if protocol else {}))
    return ConductivityFactory(fit=fit, kind=kind, temperature_c=temperature_c, conductivity_s_per_cm=sigma,
                               conductivity_stderr_s_per_cm=sigma * rel_err)


def by_metric(values):
    return {v.metric: v for v in values}


@pytest.fixture
def cell():
    cell = CellFactory()
    PressureStepFactory(cell=cell, phase="densification", pressure_mpa=370, position=0)
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10, position=1)
    return cell


def test_sigma_25c_from_arrhenius_recovers_truth_within_ci(cell):
    rng = np.random.default_rng(7)
    for t in (40, 50, 60, 70, 80, 90):
        add_point(cell, t, sigma_true(t) * (1 + 0.02 * rng.standard_normal()))
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert sigma.ci_low < SIGMA25_TRUE < sigma.ci_high
    assert sigma.value == pytest.approx(SIGMA25_TRUE, rel=0.1)
    assert sigma.stderr > 0


def test_sigma_25c_outside_measured_range_is_flagged_extrapolated(cell):
    for t in (40, 60, 80):
        add_point(cell, t, sigma_true(t))
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "extrapolated" in sigma.flags
    assert not sigma.blocking


def test_sigma_25c_measured_at_room_temperature_is_not_extrapolated(cell):
    for t in (24.0, 25.5, 26.0):
        add_point(cell, t, 1e-4)
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert sigma.value == pytest.approx(1e-4)
    assert sigma.method.startswith("measured")
    assert "extrapolated" not in sigma.flags


def test_sigma_25c_repeats_combine_scatter_into_stderr(cell):
    for value in (1.0e-4, 1.2e-4, 0.8e-4):
        add_point(cell, 25.0, value, rel_err=0.001)
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    expected = np.std([1.0e-4, 1.2e-4, 0.8e-4], ddof=1) / math.sqrt(3)
    assert sigma.stderr == pytest.approx(expected)


def test_activation_energy_recovered_with_form_and_range(cell):
    for t in (20, 30, 40, 50, 60):
        add_point(cell, t, sigma_true(t))
    ea = by_metric(metrics.separator_metrics(cell.separator))[Metric.ACTIVATION_ENERGY]
    assert ea.value == pytest.approx(EA_TRUE_EV, abs=1e-6)
    assert ea.details["arrhenius_form"] == "sigma_t"
    assert (ea.details["temperature_min_c"], ea.details["temperature_max_c"]) == (20, 60)


def test_stored_arrhenius_fit_takes_precedence(cell):
    for t in (40, 60, 80):
        add_point(cell, t, sigma_true(t))
    ArrheniusFitFactory(separator=cell.separator, activation_energy_ev=0.5, n_points=9)
    ea = by_metric(metrics.separator_metrics(cell.separator))[Metric.ACTIVATION_ENERGY]
    assert ea.value == 0.5


def test_separator_asr_is_thickness_over_sigma_with_propagated_error(cell):
    separator = cell.separator
    separator.thickness_um, separator.thickness_stderr_um = 500.0, 10.0
    separator.save()
    add_point(cell, 25.0, 1e-3, rel_err=0.03)
    asr = by_metric(metrics.separator_metrics(separator))[Metric.SEPARATOR_ASR]
    assert asr.value == pytest.approx(0.05 / 1e-3)  # 500 µm = 0.05 cm → 50 Ω·cm²
    assert asr.stderr == pytest.approx(50 * math.hypot(0.03, 0.02))
    assert asr.ci_low < 50 < asr.ci_high


SYMMETRIC_ROLES = {"L0": "inductance", "R0": "total", "R1": "interface", "CPE1": "interface", "R2": "interface",
                   "CPE2": "interface"}


def symmetric_fit(cell, r_interface_ohm, **spectrum_fields):
    protocol = StandardProtocolFactory(name="Symmetric Li cell (test)", circuit="L0-R0-p(R1,CPE1)-p(R2,CPE2)",
                                       element_roles=SYMMETRIC_ROLES)
    spectrum = SpectrumFactory(cell=cell, group=cell.group, **spectrum_fields)
    return FitFactory(
        spectrum=spectrum, protocol=protocol,
        parameters={"L0": 1e-7, "R0": 50.0, "R1": r_interface_ohm * 0.6, "CPE1_Q": 1e-6, "CPE1_n": 0.9,
                    "R2": r_interface_ohm * 0.4, "CPE2_Q": 1e-5, "CPE2_n": 0.8},
        stderr={"L0": 1e-9, "R0": 1.0, "R1": 3.0, "CPE1_Q": 1e-8, "CPE1_n": 0.01, "R2": 4.0, "CPE2_Q": 1e-7,
                "CPE2_n": 0.01},
    )


@pytest.mark.parametrize("configuration, interfaces", [("symmetric", 2), ("half_cell", 1)])
def test_interfacial_asr_is_halved_only_for_symmetric_cells(configuration, interfaces):
    cell = CellFactory(configuration=configuration, electrode_contact="li", active_area_cm2=0.5)
    symmetric_fit(cell, 200.0)
    asr = by_metric(cell_metrics.cell_metrics(cell))[Metric.INTERFACIAL_ASR]
    assert asr.value == pytest.approx(200.0 * 0.5 / interfaces)
    assert asr.stderr == pytest.approx(5.0 * 0.5 / interfaces)  # √(3² + 4²) Ω
    assert asr.stack_pressure_mpa == 10.0


def test_impedance_growth_per_cycle_slope_recovered_within_ci():
    cell = CellFactory(configuration="symmetric", electrode_contact="li", active_area_cm2=1.0)
    rng = np.random.default_rng(3)
    true_slope = 4.0  # Ω·cm² per cycle after halving → R grows by 8 Ω per cycle
    for cycle in range(8):
        r = 100.0 + 2 * true_slope * cycle + rng.normal(0, 1.0)
        symmetric_fit(cell, r, cycle_index=cycle, elapsed_time_h=2.0 * cycle)
    values = by_metric(cell_metrics.cell_metrics(cell))
    growth = values[Metric.IMPEDANCE_GROWTH_PER_CYCLE]
    assert growth.ci_low < true_slope < growth.ci_high
    assert growth.value == pytest.approx(true_slope, rel=0.05)
    assert values[Metric.IMPEDANCE_GROWTH_PER_HOUR].value == pytest.approx(true_slope / 2, rel=0.05)


def test_impedance_growth_ignores_spectra_at_another_temperature():
    cell = CellFactory(configuration="symmetric", electrode_contact="li", active_area_cm2=1.0)
    for cycle in range(4):
        symmetric_fit(cell, 100.0 + 10 * cycle, cycle_index=cycle)
    symmetric_fit(cell, 5.0, cycle_index=10, temperature_c=80.0)
    growth = by_metric(cell_metrics.cell_metrics(cell))[Metric.IMPEDANCE_GROWTH_PER_CYCLE]
    assert growth.value == pytest.approx(5.0)  # 10 Ω per cycle, halved
    assert growth.details["x"] == [0, 1, 2, 3]


def test_electronic_conductivity_from_dc_polarisation(cell):
    DCPolarisationFactory(cell=cell, group=cell.group, voltage_v=0.5, steady_current_a=2e-9)
    sigma_e = by_metric(metrics.separator_metrics(cell.separator))[Metric.ELECTRONIC_CONDUCTIVITY]
    # L = 800 µm, A = 0.785 cm²: σe = 0.08 · 2e-9 / (0.785 · 0.5)
    assert sigma_e.value == pytest.approx(0.08 * 2e-9 / (0.785 * 0.5))


def test_ccd_reports_its_protocol_and_step_resolution():
    test = CCDTestFactory(critical_current_density_ma_per_cm2=0.8, step_ma_per_cm2=0.1)
    ccd = by_metric(cell_metrics.cell_metrics(test.cell))[Metric.CRITICAL_CURRENT_DENSITY]
    assert ccd.value == 0.8
    assert (ccd.ci_low, ccd.ci_high) == pytest.approx((0.7, 0.8))
    assert ccd.details["protocol"]["capacity_per_half_cycle_mah_per_cm2"] == 0.1
    assert "ccd_without_protocol" not in ccd.flags


def test_ccd_without_temperature_is_flagged_blocking():
    test = CCDTestFactory(temperature_c=None)
    ccd = by_metric(cell_metrics.cell_metrics(test.cell))[Metric.CRITICAL_CURRENT_DENSITY]
    assert "ccd_without_protocol" in ccd.flags
    assert ccd.blocking


def test_failed_kramers_kronig_flags_sigma_blocking(cell):
    row = add_point(cell, 25.0, 1e-4)
    KramersKronigCheckFactory(spectrum=row.spectrum, passed=False, max_abs_residual=0.05)
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "kk_failed" in sigma.flags and sigma.blocking


def test_kramers_kronig_too_short_to_judge_does_not_block_sigma(cell):
    row = add_point(cell, 25.0, 1e-4)
    KramersKronigCheckFactory(spectrum=row.spectrum, passed=False, verdict="insufficient_data", max_abs_residual=0.076)
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "kk_failed" not in sigma.flags and not sigma.blocking


@pytest.mark.parametrize("parameters, residual", [
    ({"R1": 1000.0}, 0.03),  # R1 at a protocol bound, residuals of 3 %: judged by the pipeline, which found no flag
])
def test_entry_follows_the_pipelines_judgement_of_bounds_and_residuals(cell, parameters, residual):
    protocol = StandardProtocolFactory(name="bounded (test)", bounds={"R1": [1e-3, 1000.0]})
    row = add_point(cell, 25.0, 1e-4, protocol=protocol)
    row.fit.parameters = {**row.fit.parameters, **parameters}
    row.fit.derived = {**(row.fit.derived or {}), "rms_relative_residual": residual}
    row.fit.flags = []
    row.fit.save()
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert not {"parameter_at_bound", "poor_fit"} & set(sigma.flags)
    assert not sigma.blocking


def test_bulk_arc_with_electrode_capacitance_is_flagged_as_mismatch(cell):
    row = add_point(cell, 25.0, 1e-4)
    row.fit.parameters = {**row.fit.parameters, "C1": 1e-6}  # 1 µF is a double layer, not bulk
    row.fit.save()
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "arc_assignment_mismatch" in sigma.flags
    assert not sigma.blocking


def test_conductivity_implausible_for_family_is_blocking(cell):
    add_point(cell, 25.0, 0.5)  # 0.5 S/cm for a garnet: a unit or geometry error
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "implausible_for_family" in sigma.flags and sigma.blocking


def test_missing_pressure_history_is_flagged():
    cell = CellFactory()
    add_point(cell, 25.0, 1e-4)
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "no_pressure_history" in sigma.flags


def test_non_standard_fits_are_ignored(cell):
    add_point(cell, 25.0, 1e-4, protocol=StandardProtocolFactory(name="my own", is_standard=False))
    assert Metric.SIGMA_25C_TOTAL not in by_metric(metrics.separator_metrics(cell.separator))


@pytest.mark.parametrize("stored_flag, code", [
    ("kk_failed", "kk_failed"), ("poor_chi_square", "poor_fit"),
    ("parameter_at_bound", "parameter_at_bound"), ("assignment_at_odds_with_role", "arc_assignment_mismatch"),
    ("resistance_unidentifiable", "resistance_unidentifiable"), ("temperature_unknown", "temperature_unknown"),
])
def test_flags_stored_by_the_analysis_pipeline_carry_over(cell, stored_flag, code):
    row = add_point(cell, 25.0, 1e-4)
    row.fit.flags = [stored_flag]
    row.fit.derived = {"flag_details": {stored_flag: "as the pipeline explained"}}
    row.fit.save()
    sigma = by_metric(metrics.separator_metrics(cell.separator))[Metric.SIGMA_25C_TOTAL]
    assert "as the pipeline explained" in sigma.flags[code]
    assert sigma.blocking is flag_registry.get(code).blocking


def test_resistance_for_reads_the_roles_the_pipeline_reassigned(cell):
    # The protocol says R0 bulk, R1 grain boundary; the pipeline found R1's capacitance to be bulk and R0 the leads.
    fit = FitFactory(
        spectrum=SpectrumFactory(cell=cell, group=cell.group),
        protocol=StandardProtocolFactory(name="Bulk beyond (test)", circuit="R0-p(R1,C1)",
                                         element_roles={"R0": "bulk", "R1": "grain_boundary", "C1": "grain_boundary"}),
        parameters={"R0": 2.0, "R1": 800.0, "C1": 1e-11}, stderr={"R0": 0.1, "R1": 8.0, "C1": 1e-13},
        derived={"elements": {"R0": {"role": "series"}, "R1": {"role": "bulk", "capacitive_element": "C1"}}},
    )
    assert fit.roles == {"R0": "series", "R1": "bulk", "C1": "bulk"}
    assert metrics.resistance_for(fit, {"bulk"}) == pytest.approx((800.0, 8.0))
    assert metrics.resistance_for(fit, {"grain_boundary"}) is None


def test_resistance_for_leaves_out_an_arc_hidden_under_the_electrode_spike(cell):
    fit = FitFactory(
        spectrum=SpectrumFactory(cell=cell, group=cell.group),
        derived={"elements": {"R0": {"role": "series"}, "R1": {"role": "bulk"},
                              "R2": {"role": "grain_boundary", "hidden_under_electrode_spike": True}}},
    )
    assert metrics.resistance_for(fit, {"bulk", "grain_boundary"}) == pytest.approx((1000.0, 10.0))


def test_fit_without_derived_roles_falls_back_to_the_protocol(cell):
    fit = FitFactory(spectrum=SpectrumFactory(cell=cell, group=cell.group), derived={})
    assert metrics.resistance_for(fit, {"bulk", "grain_boundary"}) == pytest.approx((1500.0, math.hypot(10.0, 5.0)))


@pytest.mark.parametrize("configuration, interfaces", [("symmetric", 2), ("half_cell", 1)])
def test_interfacial_asr_function_is_the_benchmark_number(configuration, interfaces):
    cell = CellFactory(configuration=configuration, electrode_contact="li", active_area_cm2=0.5)
    fit = symmetric_fit(cell, 200.0)
    one = metrics.interfacial_asr(fit, cell)
    assert one.asr_ohm_cm2 == pytest.approx(200.0 * 0.5 / interfaces)
    assert one.interfaces_in_series == interfaces
    assert one.asr_ohm_cm2 == pytest.approx(by_metric(cell_metrics.cell_metrics(cell))[Metric.INTERFACIAL_ASR].value)


def test_a_spectrum_fitted_under_two_standard_protocols_counts_the_one_the_pipeline_picks(
        cell, django_assert_max_num_queries):
    """The pipeline's rule wins over a newer, higher-version standard protocol; asked for many such spectra at
    once, the rule costs a fixed number of queries (arrays in one, each separator and protocol name once)."""
    from apps.analysis.models import FitProtocol
    from apps.analysis.services import standard_protocol_for
    from apps.benchmarks.selectors import standard_fits

    spectra = [SpectrumFactory(cell=cell, group=cell.group) for _ in range(6)]
    rule = standard_protocol_for(spectra[0])
    other = StandardProtocolFactory(name="Another standard (test)", version=9)
    expected = {}
    for spectrum in spectra:
        expected[spectrum.pk] = FitFactory(spectrum=spectrum, protocol=FitProtocol.objects.get(pk=rule.pk)).pk
        FitFactory(spectrum=spectrum, protocol=other)  # newer and a higher version: loses to the rule
    loaded = list(spectra[0].__class__.objects.filter(pk__in=[s.pk for s in spectra]).select_related("cell__separator")
                  .defer("data"))
    with django_assert_max_num_queries(6):
        chosen = standard_fits(loaded)
    assert {pk: fit.pk for pk, fit in chosen.items()} == expected


def test_a_flag_keeps_its_first_notes_and_counts_the_rest():
    from apps.benchmarks.flags import NOTES_PER_FLAG, joined_notes, merge_flags

    flags: dict[str, str] = {}
    for i in range(NOTES_PER_FLAG + 7):
        merge_flags(flags, {"kk_failed": f"spectrum {i}: residuals"})
    parts = flags["kk_failed"].split("; ")
    assert parts[:NOTES_PER_FLAG] == [f"spectrum {i}: residuals" for i in range(NOTES_PER_FLAG)]
    assert parts[NOTES_PER_FLAG:] == ["and 7 more"]
    assert joined_notes(["a", "b"]) == "a; b"
    assert joined_notes(str(i) for i in range(NOTES_PER_FLAG + 2)).endswith(f"{NOTES_PER_FLAG - 1}; and 2 more")


def test_the_pressure_history_note_names_no_cell():
    from apps.benchmarks.flags import pressure_history_flag

    cells = [CellFactory(name=f"private cell {i}") for i in range(2)]
    note = pressure_history_flag(cells)["no_pressure_history"]
    assert note == "no pressure steps recorded for any of its 2 cells" and "private cell" not in note
