import numpy as np
import pytest
from _spectra import read_example_csv, read_zplot

from apps.analysis.eis import FitError, FitResult, fit_circuit, parse_circuit


def _example_spectrum():
    f, z = read_example_csv()
    keep = z.imag < 0  # drop the inductive high-frequency points
    return f[keep], z[keep]


def _cost(circuit, params, f, z, weighting):
    zm = parse_circuit(circuit).impedance(params, f)
    w = 1 / np.abs(z) if weighting == "modulus" else 1.0
    r = (zm - z) * w
    return 0.5 * float(np.sum(r.real**2 + r.imag**2))


# impedance.py's published optima for these spectra and circuits.
REFERENCE_OPTIMA = [
    ("R0-p(R1,C1)-p(R2-Wo1,C2)", "unit", [1.6519e-2, 8.6766e-3, 3.3214, 5.3900e-3, 6.3093e-2, 2.3252e2, 2.1954e-1]),
    ("R0-p(R1,C1)-p(R2-Wo1,C2)", "modulus", [1.6399e-2, 9.0562e-3, 3.0604, 5.2867e-3, 1.4487e-1, 1.3201e3, 2.0151e-1]),
    ("R0-p(R1-Wo1,C1)", "unit", [1.86236e-2, 1.16804e-2, 6.27121e-2, 2.21233e2, 1.17171]),
]


def test_example_spectrum_has_57_capacitive_points():
    f, _ = _example_spectrum()
    assert f.size == 57


@pytest.mark.parametrize("circuit,weighting,reference", REFERENCE_OPTIMA)
def test_fit_without_guess_reaches_impedance_py_optimum(circuit, weighting, reference):
    f, z = _example_spectrum()
    result = fit_circuit(f, z, circuit, weighting=weighting)
    reference_cost = _cost(circuit, reference, f, z, weighting)
    # no higher than the reference optimum (0.1 % slack for rounding of the published values)
    assert result.cost <= reference_cost * 1.001
    assert result.cost == pytest.approx(_cost(circuit, list(result.parameters.values()), f, z, weighting), rel=1e-9)


@pytest.mark.parametrize(
    "name,circuit",
    [
        ("Circuit1_EIS_1.z", "R0-p(R1,CPE1)"),
        ("Circuit2_EIS_1.z", "R0-p(R1,CPE1)-p(R2,CPE2)"),
        ("Circuit3_EIS_1.z", "R0-p(R1,CPE1)-p(R2,CPE2)"),
    ],
)
def test_fit_zplot_dummy_cells_with_small_residuals(name, circuit):
    f, z, _ = read_zplot(name)
    keep = z.imag < 0
    result = fit_circuit(f[keep], z[keep], circuit)
    magnitude = np.hypot(result.residuals_real, result.residuals_imag)
    # a few high-frequency points carry lead artefacts; the bulk fits at noise level
    assert magnitude.max() < 0.05
    assert np.median(magnitude) < 0.005


def test_fit_recovers_synthetic_truth_and_stderr_covers_it():
    circuit = "R0-p(R1,CPE1)-CPE2"
    truth = np.array([12.0, 850.0, 2e-8, 0.82, 2e-6, 0.88])
    f = np.logspace(6, -1, 71)
    rng = np.random.default_rng(3)
    z = parse_circuit(circuit).impedance(truth, f)
    z = z + 0.003 * np.abs(z) * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    result = fit_circuit(f, z, circuit)
    assert isinstance(result, FitResult)
    for name, value in zip(result.parameter_names, truth):
        assert result.parameters[name] == pytest.approx(value, rel=0.05)
        assert abs(result.parameters[name] - value) < 5 * result.stderr[name]
    assert result.reduced_chi_square == pytest.approx(0.003**2, rel=0.5)
    assert result.predicted.shape == f.shape
    assert np.allclose(np.diag(result.correlations), 1.0)


def test_fixed_parameter_is_held_and_window_limits_points():
    circuit = "R0-p(R1,C1)"
    f = np.logspace(5, -1, 61)
    z = parse_circuit(circuit).impedance([10.0, 100.0, 1e-5], f)
    result = fit_circuit(f, z, circuit, fixed={"R0": 11.0}, frequency_window_hz=(1.0, 1e4))
    assert result.parameters["R0"] == 11.0
    assert result.stderr["R0"] == 0.0
    assert result.residuals_real.size == np.count_nonzero((f >= 1) & (f <= 1e4))
    assert result.predicted.size == f.size


@pytest.mark.parametrize(
    "f,z,circuit,problem",
    [
        ([1.0, 2.0], [1 - 1j, 2 - 1j], "R0-p(R1,CPE1)", "cannot determine"),
        ([1.0, np.nan, 3.0], [1 - 1j] * 3, "R0", "NaN"),
        ([1.0, -2.0, 3.0], [1 - 1j] * 3, "R0", "positive"),
        ([1.0, 2.0, 3.0], [1 - 1j] * 2, "R0", "shape mismatch"),
    ],
)
def test_bad_input_raises_fit_error(f, z, circuit, problem):
    with pytest.raises(FitError, match=problem):
        fit_circuit(np.array(f), np.array(z, complex), circuit)


@pytest.mark.parametrize("weighting", ["unit", "proportional", "modulus"])
def test_every_weighting_recovers_noise_free_truth(weighting):
    circuit = "L0-R0-p(R1,CPE1)-p(R2,CPE2)"
    truth = [4e-7, 20.0, 150.0, 3e-9, 0.9, 600.0, 2e-6, 0.8]
    f = np.logspace(6, -1, 71)
    z = parse_circuit(circuit).impedance(truth, f)
    result = fit_circuit(f, z, circuit, weighting=weighting)
    assert result.weighting == weighting
    for name, value in zip(result.parameter_names, truth):
        assert result.parameters[name] == pytest.approx(value, rel=1e-4)


def test_partial_initial_guess_dict_is_accepted():
    circuit = "R0-p(R1,C1)"
    f = np.logspace(5, -1, 61)
    z = parse_circuit(circuit).impedance([10.0, 100.0, 1e-5], f)
    result = fit_circuit(f, z, circuit, {"R1": 80.0})
    assert result.parameters["R1"] == pytest.approx(100.0, rel=1e-6)


def test_unknown_fixed_parameter_is_rejected():
    f = np.logspace(5, -1, 61)
    z = parse_circuit("R0-p(R1,C1)").impedance([10.0, 100.0, 1e-5], f)
    with pytest.raises(FitError, match="R9"):
        fit_circuit(f, z, "R0-p(R1,C1)", fixed={"R9": 1.0})


# --- Bounds that do not decide the answer -------------------------------------------------------------------------

# A cell whose interface CPE has n = 0.3 (a very distributed interface), under a protocol bound n ≥ 0.4.
BOUND_CIRCUIT = "R0-p(R1,CPE1)"
BOUND_TRUTH = {"R0": 5.0, "R1": 200.0, "CPE1_Q": 1e-4, "CPE1_n": 0.3}


def _bound_spectrum():
    f = np.logspace(6, -2, 81)
    z = parse_circuit(BOUND_CIRCUIT).impedance([BOUND_TRUTH[n] for n in parse_circuit(BOUND_CIRCUIT).parameter_names], f)
    rng = np.random.default_rng(0)
    return f, z + 0.002 * np.abs(z) * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))


def test_protocol_bound_that_holds_a_parameter_is_reported_with_the_cost_it_costs():
    f, z = _bound_spectrum()
    result = fit_circuit(f, z, BOUND_CIRCUIT, bounds={"CPE1_n": (0.4, 1.0)})
    assert result.parameters["CPE1_n"] == pytest.approx(0.4, abs=1e-6)  # the bounded answer is returned
    (finding,) = result.bound_findings
    assert (finding.parameter, finding.side, finding.bound, finding.physical_limit) == ("CPE1_n", "lower", 0.4, 0.0)
    assert finding.cost_at_bound == pytest.approx(result.cost)
    assert finding.value_relaxed == pytest.approx(0.3, abs=0.01)
    assert finding.cost_ratio > 3  # the bound, not the data, decided the answer
    assert not finding.relaxed
    assert finding.as_dict()["parameter"] == "CPE1_n"


def test_bound_policy_relax_returns_the_fit_with_the_bound_released():
    f, z = _bound_spectrum()
    result = fit_circuit(f, z, BOUND_CIRCUIT, bounds={"CPE1_n": (0.4, 1.0)}, bound_policy="relax")
    assert result.parameters["CPE1_n"] == pytest.approx(0.3, abs=0.01)
    assert result.parameters["R1"] == pytest.approx(200.0, rel=0.05)
    (finding,) = result.bound_findings
    assert finding.relaxed and result.cost == pytest.approx(finding.cost_relaxed)


@pytest.mark.parametrize("bounds", [None, {"CPE1_n": (0.2, 1.0)}, {"CPE1_n": (0.0, 1.0)}])
def test_no_finding_when_no_caller_bound_holds_a_parameter(bounds):
    f, z = _bound_spectrum()
    result = fit_circuit(f, z, BOUND_CIRCUIT, bounds=bounds)
    assert result.bound_findings == ()
    assert result.parameters["CPE1_n"] == pytest.approx(0.3, abs=0.01)


def test_unknown_bound_policy_is_rejected():
    f, z = _bound_spectrum()
    with pytest.raises(FitError, match="bound_policy"):
        fit_circuit(f, z, BOUND_CIRCUIT, bound_policy="ignore")


# --- Seeds from a neighbouring result --------------------------------------------------------------------------------


def test_seed_parameters_are_the_first_start_and_end_the_search_when_they_are_the_optimum():
    circuit = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
    names = parse_circuit(circuit).parameter_names
    truth = [5.0, 2000.0, 4e-10, 0.92, 1500.0, 2e-8, 0.8, 1e-6, 0.85]
    f = np.logspace(7, -2, 91)
    z = parse_circuit(circuit).impedance(truth, f)
    rng = np.random.default_rng(3)
    z = z + 0.005 * np.abs(z) * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    unseeded = fit_circuit(f, z, circuit)
    # The neighbouring temperature's optimum: resistances 30 % off, as one temperature step would move them.
    neighbour = {n: v * (1.3 if n.startswith("R") else 1.0) for n, v in zip(names, truth)}
    seeded = fit_circuit(f, z, circuit, seed_parameters=neighbour)
    assert seeded.cost <= unseeded.cost * (1 + 1e-3)
    assert seeded.n_starts <= unseeded.n_starts
    with pytest.raises(FitError, match="seed_parameters"):
        fit_circuit(f, z, circuit, seed_parameters={"R9": 1.0})
