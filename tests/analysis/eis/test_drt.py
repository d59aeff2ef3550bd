import numpy as np
import pytest

from apps.analysis.eis import circuit_impedance, compute_drt

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
