import numpy as np
import pytest
from _spectra import read_zplot

from apps.analysis.eis import kramers_kronig_test

ZPLOT_FILES = [f"Circuit{i}_EIS_{j}.z" for i in (1, 2, 3) for j in (1, 2)]


def test_lin_kk_golden_value_matches_impedance_py():
    f, z, _ = read_zplot("Circuit3_EIS_1.z")
    result = kramers_kronig_test(f, z, c=0.69, fit_type="real", min_m=1)
    assert result.m == 10
    assert result.mu == pytest.approx(0.684382, abs=5e-7)


@pytest.mark.parametrize("name", ZPLOT_FILES)
def test_real_spectra_pass(name):
    f, z, _ = read_zplot(name)
    result = kramers_kronig_test(f, z)
    assert result.passed
    assert result.max_abs_residual < 0.007


@pytest.mark.parametrize("name", ZPLOT_FILES)
def test_drift_over_measurement_time_fails(name):
    f, z, t = read_zplot(name)
    drift = 1 + 0.10 * (t - t.min()) / (t.max() - t.min())  # |Z| grows 10 % during the sweep
    result = kramers_kronig_test(f, z * drift)
    assert not result.passed
    assert result.max_abs_residual > result.threshold
