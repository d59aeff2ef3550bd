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
