"""Intervals of strictly positive quantities (σ, R, ASR) stay positive and contain the estimate.

Property tests (hypothesis, derandomised: the same examples on every run) over noisy synthetic
Arrhenius series and repeated measurements; closed forms for the log-space interval
x·exp(±q·δx/x) (delta method on ln x).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.analysis.eis.derived import K_B_EV_PER_K, fit_arrhenius
from apps.benchmarks import statistics as bench_stats

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None)


@pytest.mark.parametrize("value, stderr, dof", [(1e-3, 2e-4, None), (6.8e-4, 9e-4, None), (5.0, 40.0, 2)])
def test_positive_interval_is_symmetric_in_ln_x(value, stderr, dof):
    q = bench_stats._q95(dof)
    low, high = bench_stats.ci95_positive(value, stderr, dof)
    assert low == pytest.approx(value * math.exp(-q * stderr / value), rel=1e-12)
    assert high == pytest.approx(value * math.exp(q * stderr / value), rel=1e-12)
    assert 0 < low < value < high
    assert low * high == pytest.approx(value**2, rel=1e-12)


def test_small_relative_error_gives_the_linear_interval():
    low, high = bench_stats.ci95_positive(1.0, 1e-4)
    assert (low, high) == pytest.approx((1 - 1.96 * 1e-4, 1 + 1.96 * 1e-4), rel=1e-6)


@pytest.mark.parametrize("value, stderr", [(0.0, 1.0), (-1.0, 0.1), (1.0, None), (1.0, math.inf)])
def test_no_positive_interval_without_a_positive_value_and_finite_error(value, stderr):
    assert bench_stats.ci95_positive(value, stderr) == (None, None)


@PROPERTY
@given(
    ea_ev=st.floats(0.1, 1.2), log_sigma25=st.floats(-9, -1), noise=st.floats(0.001, 0.8),
    n=st.integers(3, 8), seed=st.integers(0, 2**16), with_errors=st.booleans(),
)
def test_arrhenius_sigma25_interval_stays_positive_over_noisy_series(ea_ev, log_sigma25, noise, n, seed,
                                                                    with_errors):
    rng = np.random.default_rng(seed)
    t_c = np.linspace(-20.0, 100.0, n)
    t_k = t_c + 273.15
    truth = 10**log_sigma25 * (298.15 / t_k) * np.exp(-ea_ev / K_B_EV_PER_K * (1 / t_k - 1 / 298.15))
    sigma = truth * np.exp(rng.normal(0.0, noise, n))
    result = fit_arrhenius(t_c, sigma, noise * sigma if with_errors else None)
    low, high = result.sigma_25c_ci95_s_per_cm
    assert 0 < low <= result.sigma_25c_s_per_cm <= high
    assert result.activation_energy_stderr_ev >= 0
    if with_errors:  # never smaller than the measurement errors propagated (Birge)
        assert result.activation_energy_stderr_ev > 0


@PROPERTY
@given(
    mean=st.floats(1e-8, 1e-1), relative_noise=st.floats(0.001, 3.0), n=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_repeated_measurements_and_asr_intervals_stay_positive(mean, relative_noise, n, seed):
    rng = np.random.default_rng(seed)
    values = np.abs(mean * (1 + relative_noise * rng.normal(size=n))) + 1e-12
    errors = [relative_noise * v for v in values]
    combined = bench_stats.combine(values, errors)
    low, high = bench_stats.ci95_positive(combined.mean, combined.stderr, combined.dof)
    assert 0 < low <= combined.mean <= high
    asr = bench_stats.separator_asr(
        thickness_um=500.0, thickness_stderr_um=50.0 * relative_noise, sigma_s_per_cm=combined.mean,
        sigma_stderr_s_per_cm=combined.stderr, sigma_ci_low_s_per_cm=low, sigma_ci_high_s_per_cm=high,
    )
    assert 0 < asr.ci_low_ohm_cm2 <= asr.asr_ohm_cm2 <= asr.ci_high_ohm_cm2
    bare = bench_stats.separator_asr(
        thickness_um=500.0, thickness_stderr_um=None, sigma_s_per_cm=combined.mean,
        sigma_stderr_s_per_cm=combined.stderr, sigma_ci_low_s_per_cm=None, sigma_ci_high_s_per_cm=None,
    )
    assert 0 < bare.ci_low_ohm_cm2 <= bare.asr_ohm_cm2 <= bare.ci_high_ohm_cm2
