import numpy as np
import pytest

from apps.analysis.eis import (
    EPSILON_0_F_PER_CM,
    K_B_EV_PER_K,
    area_specific_resistance,
    assign_arc,
    brug_capacitance,
    conductivity,
    effective_capacitance_rq,
    electronic_conductivity,
    fit_arrhenius,
    fit_vtf,
    relative_permittivity,
)


def test_conductivity_from_resistance_thickness_area():
    # 1 mm pellet, 1 cm², 100 Ohm → 0.1 cm / (100 Ohm · 1 cm²) = 1e-3 S/cm
    result = conductivity(100.0, 0.1, 1.0, resistance_stderr_ohm=2.0, thickness_stderr_cm=0.001)
    assert result.value_s_per_cm == pytest.approx(1e-3, rel=1e-12)
    assert result.stderr_s_per_cm == pytest.approx(1e-3 * np.hypot(0.02, 0.01), rel=1e-12)


def test_area_specific_resistance_and_electronic_conductivity():
    assert area_specific_resistance(25.0, 0.8) == pytest.approx(20.0)
    # 0.05 cm, 1 cm², 0.5 V, 1 nA steady state → 0.05 · 1e-9 / 0.5 = 1e-10 S/cm
    assert electronic_conductivity(0.05, 1.0, 0.5, 1e-9) == pytest.approx(1e-10, rel=1e-12)


def test_effective_capacitances():
    assert effective_capacitance_rq(1000.0, 1e-6, 1.0) == pytest.approx(1e-6)
    assert effective_capacitance_rq(100.0, 1e-5, 0.8) == pytest.approx(1e-5**1.25 * 100.0**0.25, rel=1e-12)
    # with R_s → ∞ Brug's formula reduces to the R‖CPE one
    assert brug_capacitance(1e-5, 0.8, 1e30, 100.0) == pytest.approx(effective_capacitance_rq(100.0, 1e-5, 0.8), rel=1e-9)
    assert brug_capacitance(1e-5, 0.8, 10.0, 100.0) == pytest.approx(1e-5**1.25 * (0.1 + 0.01) ** -0.25, rel=1e-12)


@pytest.mark.parametrize(
    "c_per_cm,label",
    [(2e-12, "bulk"), (5e-11, "grain_boundary"), (1e-8, "surface_layer"), (1e-6, "electrode")],
)
def test_assign_arc_by_capacitance_normalised_by_cell_constant(c_per_cm, label):
    thickness_cm, area_cm2 = 0.1, 0.5  # cell constant 0.2 cm^-1
    assert assign_arc(c_per_cm * area_cm2 / thickness_cm, thickness_cm, area_cm2) == label


def test_relative_permittivity():
    c = 30 * EPSILON_0_F_PER_CM * 1.0 / 0.1
    assert relative_permittivity(c, 0.1, 1.0) == pytest.approx(30.0, rel=1e-12)


@pytest.mark.parametrize("form", ["sigma_t", "sigma"])
def test_arrhenius_recovers_activation_energy(form):
    rng = np.random.default_rng(7)
    t_c = np.linspace(-20, 100, 9)
    t_k = t_c + 273.15
    ea = 0.32
    sigma = 5e2 * np.exp(-ea / (K_B_EV_PER_K * t_k))
    if form == "sigma_t":
        sigma = sigma / t_k * 300
    noisy = sigma * (1 + 0.03 * rng.standard_normal(t_c.size))
    result = fit_arrhenius(t_c, noisy, 0.03 * noisy, form=form)
    assert abs(result.activation_energy_ev - ea) < 0.01
    low, high = result.sigma_25c_ci95_s_per_cm
    true_25 = np.interp(25.0, t_c, sigma) if False else (
        (5e2 * 300 / 298.15 if form == "sigma_t" else 5e2) * np.exp(-ea / (K_B_EV_PER_K * 298.15)))
    assert low < true_25 < high
    assert not result.extrapolated_25c
    assert result.r_squared > 0.99


def test_arrhenius_flags_extrapolation_to_25c():
    t_c = np.array([60.0, 80.0, 100.0])
    result = fit_arrhenius(t_c, 1e-3 * np.exp(-0.4 / (K_B_EV_PER_K * (t_c + 273.15))), form="sigma")
    assert result.extrapolated_25c
    assert result.activation_energy_ev == pytest.approx(0.4, abs=1e-9)


def test_vtf_recovers_parameters():
    t_c = np.linspace(0, 90, 10)
    t_k = t_c + 273.15
    sigma = 5.0 * t_k**-0.5 * np.exp(-900.0 / (t_k - 190.0))
    result = fit_vtf(t_c, sigma)
    assert result.b_k == pytest.approx(900.0, rel=1e-4)
    assert result.t0_k == pytest.approx(190.0, rel=1e-4)
    assert result.pseudo_activation_energy_ev == pytest.approx(K_B_EV_PER_K * 900.0, rel=1e-4)
