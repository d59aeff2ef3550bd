import numpy as np
import pytest

from apps.analysis.eis import fit_circuit, parse_circuit
from apps.analysis.eis.derived import K_B_EV_PER_K
from apps.analysis.eis.model_choice import (
    STRONG_EVIDENCE,
    arc_parameters,
    choose_series_model,
    compare_models,
)

F = np.logspace(6, -1, 71)  # 1 MHz … 0.1 Hz, 10 per decade
TWO_ARCS = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
BULK_BEYOND = "R0-p(R1,CPE1)-CPE2"
TEMPERATURES_K = np.arange(300.0, 430.0, 20.0)
C_BULK_F, N_BULK = 1e-11, 0.95
C_GB_F, N_GB = 2e-9, 0.85


def _q(c_f, r_ohm, n):
    """CPE prefactor of an R‖CPE arc with effective capacitance c_f."""
    return c_f**n / r_ohm ** (1 - n)


def _pellet(temperature_k, seed):
    """Two-arc blocking pellet: bulk (Ea 0.40 eV) and grain boundary (Ea 0.50 eV), capacitances independent of T."""
    r_bulk = 1e5 * np.exp(0.40 / K_B_EV_PER_K * (1 / temperature_k - 1 / 300))
    r_gb = 3e5 * np.exp(0.50 / K_B_EV_PER_K * (1 / temperature_k - 1 / 300))
    truth = [2.0, r_bulk, _q(C_BULK_F, r_bulk, N_BULK), N_BULK, r_gb, _q(C_GB_F, r_gb, N_GB), N_GB, 1e-6, 0.85]
    z = parse_circuit(TWO_ARCS).impedance(truth, F)
    rng = np.random.default_rng(seed)
    return z + 0.003 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size)), r_bulk


@pytest.fixture(scope="module")
def series():
    points, bulk_apex_hz = [], []
    for i, t in enumerate(TEMPERATURES_K):
        z, r_bulk = _pellet(t, i)
        points.append({"two_arcs": fit_circuit(F, z, TWO_ARCS), "bulk_beyond": fit_circuit(F, z, BULK_BEYOND)})
        bulk_apex_hz.append(1 / (2 * np.pi * r_bulk * C_BULK_F))
    return points, np.array(bulk_apex_hz)


def test_information_criteria_follow_the_stated_formulas(series):
    point = series[0][0]
    choice = compare_models(point)
    for name, fit in point.items():
        score = choice.score(name)
        n, k = 2 * F.size, len(fit.parameter_names)
        assert (score.n_values, score.n_free) == (n, k)
        assert score.bic == pytest.approx(n * np.log(fit.chi_square / n) + k * np.log(n))
        assert score.aic == pytest.approx(n * np.log(fit.chi_square / n) + 2 * k)
    with_noise = compare_models(point, criterion="aic", noise_level=0.003)
    fit = point["bulk_beyond"]
    assert with_noise.score("bulk_beyond").aic == pytest.approx(fit.chi_square / 0.003**2 + 2 * 6)
    assert with_noise.as_dict()["noise_level"] == 0.003


def test_two_visible_arcs_choose_the_two_arc_circuit_with_the_reason(series):
    choice = compare_models(series[0][0])  # 300 K: both arcs inside the window
    assert choice.chosen == "two_arcs"
    assert choice.score("two_arcs").delta == 0.0
    assert choice.score("bulk_beyond").delta > STRONG_EVIDENCE
    assert "very strong" in choice.reason


def test_series_keeps_one_family_and_reports_where_the_bulk_arc_leaves_the_window(series):
    points, bulk_apex_hz = series
    choice = choose_series_model(points)
    assert choice.family == "two_arcs"
    assert choice.per_point == ("two_arcs",) * len(points)
    assert choice.deviations == ()
    # The bulk arc's true apex passes 1 MHz between two temperatures of the series.
    first_outside = int(np.argmax(bulk_apex_hz > F.max()))
    assert 0 < first_outside < len(points)
    (exit_,) = [e for e in choice.window_exits if e.arc == 0]
    assert exit_.index == first_outside
    assert exit_.apex_frequency_hz > exit_.f_max_hz == F.max()
    # While visible, the bulk capacitance is continuous: no jump flagged there.
    assert [j for j in choice.capacitance_jumps if j.index < first_outside - 1] == []


def test_a_point_leaves_the_family_only_when_another_candidate_fits_much_better(series):
    points, _ = series
    # At 300 K swap the names: "two_arcs" there is the one-arc fit, which fits far worse than "bulk_beyond" (two arcs).
    tampered = [dict(p) for p in points]
    tampered[0] = {"two_arcs": points[0]["bulk_beyond"], "bulk_beyond": points[0]["two_arcs"]}
    choice = choose_series_model(tampered)
    assert choice.family == "two_arcs"
    assert choice.deviations == (0,)
    assert choice.per_point[0] == "bulk_beyond"


def test_capacitance_jump_between_neighbours_is_flagged():
    # Two "temperatures" whose fast arc changes its capacitance 100-fold: a wrong assignment.
    fits = []
    for c_bulk in (1e-11, 1e-9):
        truth = [2.0, 1e4, _q(c_bulk, 1e4, 0.95), 0.95, 3e4, _q(C_GB_F * 100, 3e4, 0.85), 0.85, 1e-6, 0.85]
        z = parse_circuit(TWO_ARCS).impedance(truth, F)
        fits.append({"two_arcs": fit_circuit(F, z, TWO_ARCS)})
    choice = choose_series_model(fits)
    (jump,) = choice.capacitance_jumps
    assert (jump.arc, jump.index) == (0, 0)
    assert jump.factor == pytest.approx(100, rel=0.05)


def test_arc_parameters_are_ordered_by_time_constant():
    params = {"R0": 1.0, "R1": 100.0, "CPE1_Q": 1e-6, "CPE1_n": 1.0, "R2": 10.0, "CPE2_Q": 1e-9, "CPE2_n": 1.0,
              "CPE3_Q": 1e-6, "CPE3_n": 0.8}
    arcs = arc_parameters(TWO_ARCS, params)
    assert [a["r_ohm"] for a in arcs] == [10.0, 100.0]
    assert arcs[0]["tau_s"] == pytest.approx(1e-8)
    assert arcs[1]["capacitance_f"] == pytest.approx(1e-6)


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"criterion": "hqc"}, "criterion"),
    ({"noise_level": -1.0}, "positive"),
])
def test_bad_options_are_rejected(series, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        compare_models(series[0][0], **kwargs)


def test_candidates_on_other_weightings_are_not_compared():
    z, _ = _pellet(300.0, 0)
    with pytest.raises(ValueError, match="weighting"):
        compare_models({"a": fit_circuit(F, z, BULK_BEYOND), "b": fit_circuit(F, z, BULK_BEYOND, weighting="unit")})
