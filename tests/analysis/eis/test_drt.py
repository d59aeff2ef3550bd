import numpy as np
import pytest

from apps.analysis.eis import circuit_impedance, compute_drt
from apps.analysis.eis.drt import LAMBDA_GRID, MIN_RELATIVE_PROMINENCE

F = np.logspace(-1, 6, 71)


@pytest.mark.parametrize(
    "circuit,params,tau_true",
    [
        ("R0-p(R1,C1)", [10.0, 100.0, 1e-6], 1e-4),
        ("R0-p(R1,CPE1)", [10.0, 100.0, 1e-6, 0.85], (100.0 * 1e-6) ** (1 / 0.85)),
    ],
)
@pytest.mark.parametrize("method", ["gcv", "lcurve"])
def test_drt_recovers_time_constant_and_resistances(circuit, params, tau_true, method):
    rng = np.random.default_rng(0)
    z = circuit_impedance(circuit, params, F)
    z = z * (1 + 0.002 * rng.standard_normal(F.size))
    result = compute_drt(F, z, method=method)
    main = np.argmax(result.peaks_gamma)
    assert result.peaks_tau_s[main] == pytest.approx(tau_true, rel=0.15)
    area = result.gamma_ohm.sum() * np.log(result.tau_s[1] / result.tau_s[0])
    assert area == pytest.approx(100.0, rel=0.03)
    assert result.r_inf_ohm == pytest.approx(10.0, rel=0.03)
    assert np.abs((result.predicted - z) / np.abs(z)).max() < 0.02


# --- Depressed arcs (ZARC, n = 0.8): one peak per arc, no side lobes ---------------------------------------------

ZARC_N = 0.8


def _zarcs(taus_s, resistances_ohm, noise, seed):
    """R0 = 10 Ω in series with ZARCs R‖CPE (n = 0.8, peak of the DRT at τ), |Z|-proportional Gaussian noise."""
    params = [10.0]
    for r, tau in zip(resistances_ohm, taus_s):
        params += [r, tau**ZARC_N / r, ZARC_N]
    circuit = "R0-" + "-".join(f"p(R{i + 1},CPE{i + 1})" for i in range(len(taus_s)))
    z = circuit_impedance(circuit, params, F)
    rng = np.random.default_rng(seed)
    return z + noise * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))


# F spans τ = 1.6e-7 … 1.6 s; every arc's τ at least a decade inside.
ARCS = {
    "one_fast": ([3e-6], [100.0]),
    "one_slow": ([2e-2], [1000.0]),
    "two_equal": ([1e-5, 1e-2], [100.0, 100.0]),
    "two_small_first": ([1e-6, 3e-3], [60.0, 300.0]),
    "two_small_second": ([1e-6, 1e-3], [500.0, 100.0]),
}


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("noise", [0.0, 0.005, 0.01])
@pytest.mark.parametrize("arcs", ARCS)
def test_depressed_arcs_give_one_peak_each_at_their_time_constant(arcs, noise, seed):
    taus, resistances = ARCS[arcs]
    result = compute_drt(F, _zarcs(taus, resistances, noise, seed))
    found = np.sort(np.log10(result.peaks_tau_s))
    assert found.size == len(taus), f"peaks at log10 τ = {found}"
    assert np.abs(found - np.log10(taus)).max() < 0.1
    assert result.peaks_prominence_ohm.size == found.size
    assert np.all(result.peaks_prominence_ohm >= MIN_RELATIVE_PROMINENCE * result.peaks_prominence_ohm.max())


@pytest.mark.parametrize("noise", [0.002, 0.01])
def test_regularisation_is_an_interior_optimum_of_gcv(noise):
    result = compute_drt(F, _zarcs([1e-5, 1e-2], [100.0, 300.0], noise, 0))
    assert result.lambda_interior
    assert LAMBDA_GRID[0] < result.lambda_ < LAMBDA_GRID[-1]


def test_noise_free_data_drive_gcv_to_the_hard_limit_and_say_so():
    result = compute_drt(F, _zarcs([1e-5], [100.0], 0.0, 0))
    assert not result.lambda_interior
    assert result.lambda_ < LAMBDA_GRID[0]  # the grid was extended towards smaller λ
