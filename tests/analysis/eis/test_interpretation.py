"""The interpretation of a fit (``eis.interpretation``): pure numbers in, a frozen reading out; no database.

Runs with ``-p no:django``. Closed forms: C_eff of R‖CPE = Q^(1/n)·R^((1−n)/n) (Brug 1984),
τ = (R·Q)^(1/n), f_apex = 1/(2πτ); the error of a sum of resistances σ² = gᵀ·Σ·g.
"""
import dataclasses
import math

import numpy as np
import pytest

from apps.analysis.eis.circuits import parse_circuit
from apps.analysis.eis.interpretation import (
    FitInput,
    FitReading,
    Geometry,
    _bulk_arc_mislabelled,
    canonical_order,
    interpret_fit,
)
from apps.analysis.protocols import BULK_OFFSET_SHARE, CONDUCTIVITY_ROLES

#: 1 mm thick, 1 cm²: the cell constant is 0.1 /cm.
PELLET = Geometry(thickness_cm=0.1, area_cm2=1.0)
#: R1‖CPE1 of a grain boundary: C' = C·L/A ≈ 2.8e-10 F/cm.
GB_ARC = {"R1": 1000.0, "CPE1_Q": 1e-8, "CPE1_n": 0.9}


def _input(circuit: str, parameters: dict, roles: dict, *, covariance=None, bounds=None, **options) -> FitInput:
    parsed = parse_circuit(circuit)
    all_bounds = dict(zip(parsed.parameter_names, parsed.bounds))
    all_bounds.update(bounds or {})
    options.setdefault("geometry", PELLET)
    return FitInput(
        circuit=parsed, parameters=parameters, stderr={n: 0.0 for n in parameters}, covariance=covariance,
        roles=roles, bounds=all_bounds, conductivity_roles=CONDUCTIVITY_ROLES, bulk_offset_share=BULK_OFFSET_SHARE,
        **options,
    )


def test_effective_capacitance_time_constant_and_apex_of_an_r_cpe_arc():
    reading = interpret_fit(_input("R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R0": "bulk", "R1": "grain_boundary"}))
    r, q, n = GB_ARC["R1"], GB_ARC["CPE1_Q"], GB_ARC["CPE1_n"]
    tau = (r * q) ** (1 / n)
    arc = reading.elements["R1"]
    assert arc["capacitive_element"] == "CPE1"
    assert arc["capacitance_f"] == pytest.approx(q ** (1 / n) * r ** ((1 - n) / n), rel=1e-12)
    assert arc["time_constant_s"] == pytest.approx(tau, rel=1e-12)
    assert arc["apex_frequency_hz"] == pytest.approx(1 / (2 * math.pi * tau), rel=1e-12)
    assert arc["capacitance_normalised_f_per_cm"] == pytest.approx(arc["capacitance_f"] * 0.1, rel=1e-12)
    assert arc["assignment"] == "grain_boundary" and arc["role"] == "grain_boundary"
    assert "capacitive_element" not in reading.elements["R0"]


def test_an_ideal_capacitor_arc_has_c_as_its_capacitance_and_rc_as_its_time_constant():
    reading = interpret_fit(_input("p(R1,C1)", {"R1": 500.0, "C1": 2e-11}, {"R1": "bulk"}))
    assert reading.elements["R1"]["capacitance_f"] == 2e-11
    assert reading.elements["R1"]["time_constant_s"] == pytest.approx(500.0 * 2e-11, rel=1e-12)
    assert reading.elements["R1"]["assignment"] == "bulk"


def test_resistances_per_kind_carry_the_error_of_their_sum_from_the_covariance():
    covariance = np.zeros((4, 4))
    covariance[0, 0], covariance[1, 1], covariance[0, 1], covariance[1, 0] = 4.0, 9.0, 1.5, 1.5
    reading = interpret_fit(_input(
        "R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R0": "bulk", "R1": "grain_boundary"}, covariance=covariance,
    ))
    assert reading.resistances["bulk"] == pytest.approx((10.0, 2.0))
    assert reading.resistances["grain_boundary"] == pytest.approx((1000.0, 3.0))
    assert reading.resistances["total"] == pytest.approx((1010.0, math.sqrt(4 + 9 + 2 * 1.5)))
    assert reading.derived["resistances_ohm"]["total"]["stderr"] == pytest.approx(4.0)
    assert reading.derived["cell_constant_per_cm"] == pytest.approx(0.1)
    assert reading.flags == ()


def test_lead_resistance_is_taken_off_the_bare_intercept_counted_as_sample():
    geometry = dataclasses.replace(PELLET, lead_resistance_ohm=2.0)
    reading = interpret_fit(_input(
        "R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R0": "bulk", "R1": "grain_boundary"}, geometry=geometry,
    ))
    assert reading.elements["R0"]["lead_resistance_subtracted_ohm"] == 2.0
    assert reading.elements["R0"]["sample_resistance_ohm"] == pytest.approx(8.0)
    assert reading.resistances["bulk"][0] == pytest.approx(8.0)
    assert reading.resistances["total"][0] == pytest.approx(1008.0)
    assert "sample_resistance_ohm" not in reading.elements["R1"]


def test_lead_resistance_above_the_intercept_leaves_no_sample_and_is_flagged():
    geometry = dataclasses.replace(PELLET, lead_resistance_ohm=20.0)
    reading = interpret_fit(_input(
        "R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R0": "bulk", "R1": "grain_boundary"}, geometry=geometry,
    ))
    assert "lead_resistance_exceeds_intercept" in reading.flags
    assert reading.elements["R0"]["sample_resistance_ohm"] == 0.0
    assert reading.resistances["total"][0] == pytest.approx(1000.0)


def test_leads_fitted_as_their_own_series_element_need_no_correction():
    geometry = dataclasses.replace(PELLET, lead_resistance_ohm=2.0)
    reading = interpret_fit(_input(
        "R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R0": "series", "R1": "total"}, geometry=geometry,
    ))
    assert "lead_resistance_subtracted_ohm" not in reading.elements["R0"]
    assert reading.resistances == {"total": pytest.approx((1000.0, 0.0))}


def test_an_arc_under_the_electrode_spike_is_hidden_and_counted_nowhere():
    # R1 = 1 Ω with its apex near 350 Hz, where |Z| of CPE2 (1 µF s^(n-1)) is about 1 kΩ.
    parameters = {"R0": 50.0, "R1": 1.0, "CPE1_Q": 1e-3, "CPE1_n": 0.9, "CPE2_Q": 1e-6, "CPE2_n": 0.9}
    roles = {"R0": "bulk", "R1": "grain_boundary", "CPE2": "electrode"}
    reading = interpret_fit(_input("R0-p(R1,CPE1)-CPE2", parameters, roles))
    assert reading.hidden_elements == {"R1"}
    assert "arc_hidden_under_electrode_spike" in reading.flags
    assert "grain_boundary" not in reading.resistances
    assert reading.resistances["total"][0] == pytest.approx(50.0)


def test_an_arc_larger_than_the_electrode_impedance_at_its_apex_is_counted():
    parameters = {"R0": 50.0, **GB_ARC, "CPE2_Q": 1e-6, "CPE2_n": 0.9}
    roles = {"R0": "bulk", "R1": "grain_boundary", "CPE2": "electrode"}
    reading = interpret_fit(_input("R0-p(R1,CPE1)-CPE2", parameters, roles))
    assert reading.hidden_elements == set()
    assert reading.resistances["total"][0] == pytest.approx(1050.0)


def test_a_grain_boundary_arc_with_a_bulk_capacitance_is_read_as_bulk_and_a_small_intercept_as_leads():
    # C' of R1‖CPE1 ≈ 1.3e-12 F/cm: a bulk capacitance (Irvine, Sinclair & West 1990).
    parameters = {"R0": 5.0, "R1": 120.0, "CPE1_Q": 1e-10, "CPE1_n": 0.9}
    reading = interpret_fit(_input("R0-p(R1,CPE1)", parameters, {"R0": "bulk", "R1": "grain_boundary"}))
    assert reading.elements["R1"]["role"] == "bulk" and reading.elements["R0"]["role"] == "series"
    assert "roles_reassigned_by_capacitance" in reading.flags
    assert reading.resistances["bulk"][0] == pytest.approx(120.0)
    assert reading.resistances["total"][0] == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("r0_ohm", "expected"),
    [(5.0, ("R0", "R1")), (80.0, (None, "R1"))],
    ids=["small intercept is leads", "large intercept is unresolved bulk"],
)
def test_arc_with_bulk_capacitance_in_the_bulk_beyond_layout_is_bulk(r0_ohm, expected):
    elements = {
        "R0": {"role": "bulk", "resistance_ohm": r0_ohm},
        "R1": {"role": "grain_boundary", "resistance_ohm": 120.0, "assignment": "bulk"},
    }
    assert _bulk_arc_mislabelled(elements, {"R1": object()}, BULK_OFFSET_SHARE) == expected


def test_grain_boundary_arc_keeps_its_role():
    elements = {
        "R0": {"role": "bulk", "resistance_ohm": 5.0},
        "R1": {"role": "grain_boundary", "resistance_ohm": 120.0, "assignment": "grain_boundary"},
    }
    assert _bulk_arc_mislabelled(elements, {"R1": object()}, BULK_OFFSET_SHARE) is None


def test_a_parameter_at_its_bound_is_flagged_but_not_n_at_the_ideal_capacitor_nor_a_series_element():
    parameters = {"R0": 1e-3, "R1": 1e3, "CPE1_Q": 1e-8, "CPE1_n": 1.0}
    bounds = {"R0": (1e-3, 1e9), "R1": (1e3, 1e9), "CPE1_n": (0.5, 1.0)}
    reading = interpret_fit(_input(
        "R0-p(R1,CPE1)", parameters, {"R0": "series", "R1": "total"}, bounds=bounds,
    ))
    assert "parameter_at_bound" in reading.flags
    details = reading.derived["flag_details"]["parameter_at_bound"]
    assert details.startswith("R1 = 1000 (bounds 1000")
    assert "R0" not in details and "CPE1_n" not in details


@pytest.mark.parametrize(
    ("options", "flag", "detail"),
    [
        ({"rms_residual": 0.05}, "poor_chi_square", "rms relative residual 5.00% exceeds 2%"),
        ({"converged": False}, "not_converged", "the optimiser stopped before meeting its tolerance"),
        ({"kk_failure": "residuals show structure"}, "kk_failed", "residuals show structure"),
    ],
)
def test_fit_quality_findings_are_flagged_with_their_details(options, flag, detail):
    reading = interpret_fit(_input("R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R1": "total"}, **options))
    assert reading.flags == (flag,)
    assert reading.derived["flag_details"][flag] == detail


def test_without_geometry_there_is_no_assignment_and_the_reason_is_kept():
    geometry = Geometry(thickness_cm=None, area_cm2=None, missing="separator 'S1' has no thickness")
    reading = interpret_fit(_input("R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R1": "total"}, geometry=geometry))
    assert "assignment" not in reading.elements["R1"]
    assert reading.derived["cell_constant_per_cm"] is None
    assert reading.derived["conductivity_skipped"] == "No conductivity: separator 'S1' has no thickness."
    assert reading.resistances["total"][0] == pytest.approx(1000.0)


def test_a_geometry_without_thickness_must_say_why():
    with pytest.raises(ValueError, match="thickness and an area"):
        Geometry(thickness_cm=None, area_cm2=1.0)


def test_identical_blocks_are_numbered_by_increasing_time_constant():
    circuit = parse_circuit("p(R1,CPE1)-p(R2,CPE2)")
    slow_first = {"R1": 1e3, "CPE1_Q": 1e-6, "CPE1_n": 0.9, "R2": 100.0, "CPE2_Q": 1e-10, "CPE2_n": 0.9}
    perm = canonical_order(circuit, slow_first)
    names = circuit.parameter_names
    assert [names[i] for i in perm] == ["R2", "CPE2_Q", "CPE2_n", "R1", "CPE1_Q", "CPE1_n"]
    assert canonical_order(circuit, {n: slow_first[names[perm[i]]] for i, n in enumerate(names)}) == list(range(6))


def test_the_reading_is_frozen_and_gives_the_fit_row_fields():
    reading = interpret_fit(_input("R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R1": "total"}))
    assert isinstance(reading, FitReading)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.flags = ("x",)
    fields = reading.as_fields()
    assert set(fields) == {"derived", "flags"} and fields["flags"] == []
    assert fields["derived"]["elements"]["R1"]["role"] == "total"


ELECTRODE_CIRCUIT = "R0-p(R1,CPE1)-CPE2"
ELECTRODE_ROLES = {"R0": "series", "R1": "total", "CPE1": "total", "CPE2": "electrode"}
ELECTRODE_FIT = {"R0": 2.0, **GB_ARC, "CPE2_Q": 1.3e5, "CPE2_n": 1.0}


def _with_stderr(fit: FitInput, **stderr) -> FitInput:
    return dataclasses.replace(fit, stderr={**fit.stderr, **stderr})


def test_a_huge_stderr_off_the_conductivity_is_unidentifiable_but_does_not_block_it():
    # The fit: CPE2_Q = 1.3e5 ± 5.4e16 with CPE2_n pinned at 1 (the ideal capacitor, not a bound).
    fit = _with_stderr(_input(ELECTRODE_CIRCUIT, ELECTRODE_FIT, ELECTRODE_ROLES), CPE2_Q=5.4e16, CPE2_n=0.0)
    reading = interpret_fit(fit)
    assert "parameter_unidentifiable" in reading.flags
    assert "resistance_unidentifiable" not in reading.flags  # σ rests on R1 and CPE1 only
    assert "parameter_at_bound" not in reading.flags  # n = 1 is a physical limit
    detail = reading.derived["flag_details"]["parameter_unidentifiable"]
    assert detail.startswith("CPE2_Q = 1.3e+05 ± 5.4e+16") and "CPE2_n" not in detail


@pytest.mark.parametrize("name, stderr, why", [
    ("R1", 1500.0, "total R = 1e+03 ± 1.5e+03 Ω"),     # the sum's relative standard error 150 %
    ("R1", math.nan, "total rests on R1, with no finite error"),  # a singular covariance
])
def test_a_conductivity_resting_on_an_unidentifiable_resistance_is_flagged_to_block(name, stderr, why):
    reading = interpret_fit(_with_stderr(_input(ELECTRODE_CIRCUIT, ELECTRODE_FIT, ELECTRODE_ROLES), **{name: stderr}))
    assert {"parameter_unidentifiable", "resistance_unidentifiable"} <= set(reading.flags)
    assert why in reading.derived["flag_details"]["resistance_unidentifiable"]


def test_an_unidentifiable_intercept_small_beside_the_arc_leaves_the_conductivity_sound():
    roles = {**ELECTRODE_ROLES, "R0": "total"}
    reading = interpret_fit(_with_stderr(_input(ELECTRODE_CIRCUIT, ELECTRODE_FIT, roles), R0=5.0, R1=10.0))
    assert "parameter_unidentifiable" in reading.flags  # R0 = 2 ± 5 Ω
    assert "resistance_unidentifiable" not in reading.flags  # total = 1002 ± 11 Ω
    assert reading.resistances["total"][1] == pytest.approx(math.hypot(5.0, 10.0))


def test_a_relative_stderr_below_100_percent_is_identifiable():
    reading = interpret_fit(_with_stderr(_input(ELECTRODE_CIRCUIT, ELECTRODE_FIT, ELECTRODE_ROLES), R1=900.0))
    assert "parameter_unidentifiable" not in reading.flags


def test_a_vanishing_resistance_at_its_lower_bound_is_an_absent_element_not_a_bound():
    parameters = {"R0": 1e-9, **GB_ARC}
    reading = interpret_fit(_with_stderr(_input("R0-p(R1,CPE1)", parameters, {"R0": "total", "R1": "total"}),
                                         R0=1e-7))
    assert not {"parameter_at_bound", "parameter_unidentifiable", "resistance_unidentifiable"} & set(reading.flags)
    assert reading.resistances["total"][0] == pytest.approx(1000.0)


@pytest.mark.parametrize("known, flagged", [(True, False), (False, True)])
def test_a_spectrum_without_temperature_is_flagged(known, flagged):
    reading = interpret_fit(_input("R0-p(R1,CPE1)", {"R0": 10.0, **GB_ARC}, {"R1": "total"}, temperature_known=known))
    assert ("temperature_unknown" in reading.flags) is flagged
