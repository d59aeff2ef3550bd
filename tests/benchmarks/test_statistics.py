"""Pure benchmark statistics against closed forms; no database (runs with `-p no:django`)."""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from apps.analysis.eis.derived import stderr_from_log_interval
from apps.benchmarks import statistics as bench_stats

ROOT = Path(__file__).resolve().parents[2]


def test_module_loads_without_django():
    code = "import sys, apps.benchmarks.statistics; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("dof, q", [(None, 1.959963984540054), (4, 2.7764451051977987), (1, 12.706204736174707)])
def test_ci95_uses_student_t_quantile(dof, q):
    low, high = bench_stats.ci95(10.0, 0.5, dof)
    assert low == pytest.approx(10.0 - q * 0.5, rel=1e-12)
    assert high == pytest.approx(10.0 + q * 0.5, rel=1e-12)


@pytest.mark.parametrize("stderr", [None, math.nan, math.inf])
def test_ci95_without_a_finite_stderr_has_no_interval(stderr):
    assert bench_stats.ci95(1.0, stderr) == (None, None)


def test_combine_keeps_propagated_error_when_larger_than_scatter():
    c = bench_stats.combine([1.0, 1.0, 1.0, 1.0], [0.2, 0.2, 0.2, 0.2])
    assert c.mean == 1.0
    assert c.stderr == pytest.approx(math.sqrt(4 * 0.04) / 4, rel=1e-12)  # √Σδ²/n
    assert c.dof is None and c.n == 4


def test_combine_uses_scatter_with_n_minus_1_dof_when_larger():
    values = [1.0, 2.0, 3.0]
    c = bench_stats.combine(values, [0.01, 0.01, 0.01])
    assert c.mean == pytest.approx(2.0)
    assert c.stderr == pytest.approx(1.0 / math.sqrt(3), rel=1e-12)  # s = 1
    assert c.dof == 2


def test_combine_single_value_without_error():
    c = bench_stats.combine([5.0], [None])
    assert (c.mean, c.stderr, c.dof, c.n) == (5.0, None, None, 1)


def test_linear_trend_recovers_slope_within_its_ci():
    rng = np.random.default_rng(3)
    x = np.arange(10.0)
    y = 2.0 + 0.5 * x + rng.normal(0, 0.05, x.size)
    trend = bench_stats.linear_trend(x, y)
    assert trend.ci_low < 0.5 < trend.ci_high
    assert trend.slope == pytest.approx(0.5, abs=0.02)
    expected_se = math.sqrt(np.sum((y - trend.intercept - trend.slope * x) ** 2) / 8 / np.sum((x - x.mean()) ** 2))
    assert trend.slope_stderr == pytest.approx(expected_se, rel=1e-9)
    assert trend.n == 10 and 0.99 < trend.r_squared <= 1


@pytest.mark.parametrize("x", [[1.0, 2.0], [3.0, 3.0, 3.0]])
def test_linear_trend_refuses_too_few_or_identical_x(x):
    with pytest.raises(ValueError, match="at least 3 points"):
        bench_stats.linear_trend(x, [1.0] * len(x))


def test_quadrature_sum():
    assert bench_stats.quadrature_sum([3.0, 4.0], [3.0, 4.0]) == pytest.approx((7.0, 5.0))
    assert bench_stats.quadrature_sum([3.0, 4.0], [3.0, None]) == (7.0, None)
    assert bench_stats.quadrature_sum([3.0], [math.nan]) == (3.0, None)


def test_stderr_from_log_interval_inverts_a_t_interval_in_ln_sigma():
    sigma, se_ln, n = 1e-3, 0.1, 6
    q = scipy_stats.t.ppf(0.975, n - 2)
    low, high = sigma * math.exp(-q * se_ln), sigma * math.exp(q * se_ln)
    assert stderr_from_log_interval(sigma, low, high, n) == pytest.approx(sigma * se_ln, rel=1e-12)
    assert stderr_from_log_interval(sigma, None, high, n) is None


def test_separator_asr_propagates_thickness_and_sigma_errors():
    asr = bench_stats.separator_asr(thickness_um=100.0, thickness_stderr_um=3.0, sigma_s_per_cm=1e-3,
                                    sigma_stderr_s_per_cm=4e-5, sigma_ci_low_s_per_cm=None,
                                    sigma_ci_high_s_per_cm=None)
    assert asr.asr_ohm_cm2 == pytest.approx(10.0)  # 0.01 cm / 1e-3 S/cm
    assert asr.stderr_ohm_cm2 == pytest.approx(10.0 * math.hypot(0.04, 0.03))
    assert asr.ci_low_ohm_cm2 == pytest.approx(10.0 * math.exp(-1.959963984540054 * 0.05))


def test_separator_asr_maps_sigma_interval_through_l_over_sigma():
    asr = bench_stats.separator_asr(thickness_um=100.0, thickness_stderr_um=None, sigma_s_per_cm=1e-3,
                                    sigma_stderr_s_per_cm=1e-4, sigma_ci_low_s_per_cm=8e-4,
                                    sigma_ci_high_s_per_cm=1.25e-3)
    assert asr.ci_low_ohm_cm2 == pytest.approx(0.01 / 1.25e-3)
    assert asr.ci_high_ohm_cm2 == pytest.approx(0.01 / 8e-4)


def test_ccd_interval_is_one_step_below_with_uniform_stderr():
    assert bench_stats.ccd_interval(1.0, 0.1) == pytest.approx((0.1 / math.sqrt(12), 0.9, 1.0))
    assert bench_stats.ccd_interval(0.05, 0.1)[1] == 0.0


@pytest.mark.parametrize("a, b, expected", [(25.0, 27.0, True), (25.0, 27.5, False), (None, None, True),
                                            (25.0, None, False)])
def test_temperatures_comparable(a, b, expected):
    assert bench_stats.temperatures_comparable(a, b) is expected


@pytest.mark.parametrize("p, q, expected", [(5.0, 10.0, True), (10.0, 5.0, True), (5.0, 10.5, False)])
def test_pressures_comparable_within_factor_two(p, q, expected):
    assert bench_stats.pressures_comparable(p, q) is expected


def test_relative_spread_is_range_over_median():
    assert bench_stats.relative_spread([1.0, 2.0, 4.0]) == pytest.approx(1.5)
    assert bench_stats.relative_spread([-1.0, 0.0, 1.0]) is None


def test_percentile_in_sorted_counts_ties_half():
    assert bench_stats.percentile_in_sorted([1.0, 2.0, 3.0, 4.0], 2.0) == pytest.approx(37.5)
    assert bench_stats.percentile_in_sorted([1.0, 2.0], 10.0) == 100.0
    assert bench_stats.percentile_in_sorted([], 1.0) is None


def test_median_or_none_and_most_common():
    assert bench_stats.median_or_none([None, 3.0, 1.0]) == 2.0
    assert bench_stats.median_or_none([None]) is None
    assert bench_stats.most_common([1, 2, 2, 3]) == 2
    assert bench_stats.most_common([]) is None
