"""Pure statistics of the benchmarks: plain numbers in, plain numbers out, no Django.

Every function here is what `metrics` (which reads the rows) and `selectors` (round robins,
literature percentiles) apply to the numbers they load; the formulas are stated per function.
Imports: the standard library, numpy and scipy only (enforced by tests/test_layout.py).
"""
from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

ROOM_TEMPERATURE_C = 25.0
#: Spectra within this many kelvin of 25 °C count as "measured at 25 °C"; also the round-robin tolerance.
TEMPERATURE_TOLERANCE_C = 2.0
#: Pressures within this factor of each other count as comparable.
PRESSURE_FACTOR = 2.0
Z_95 = 1.959963984540054


def _q95(dof: int | None) -> float:
    return float(stats.t.ppf(0.975, dof)) if dof and dof > 0 else Z_95


def ci95(value: float, stderr: float | None, dof: int | None = None) -> tuple[float | None, float | None]:
    """value ± q·stderr, q from Student's t with `dof` degrees of freedom (normal when None).

    For quantities that may take either sign (slopes, activation energies); a strictly positive
    quantity takes `ci95_positive`."""
    if stderr is None or not math.isfinite(stderr):
        return None, None
    q = _q95(dof)
    return value - q * stderr, value + q * stderr


def ci95_positive(value: float, stderr: float | None,
                  dof: int | None = None) -> tuple[float | None, float | None]:
    """95 % interval of a strictly positive quantity (σ, R, ASR, C), symmetric in ln x.

    Delta method on ln x: δ(ln x) = δx/x, so the interval is x·exp(∓q·δx/x), q as in `ci95`.
    Both bounds are positive and enclose x, however large δx; for small δx/x it is x ± q·δx.
    None, None without a finite error or a positive, finite value.
    """
    if stderr is None or not math.isfinite(stderr) or not (math.isfinite(value) and value > 0):
        return None, None
    half_ln = _q95(dof) * abs(stderr) / value
    return value * math.exp(-half_ln), value * math.exp(half_ln)


@dataclass(frozen=True)
class Combined:
    mean: float
    stderr: float | None
    dof: int | None
    n: int


def combine(values, stderrs) -> Combined:
    """Mean of repeated measurements; stderr = max(√Σδᵢ²/n, s/√n) (propagated vs scatter)."""
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n
    known = [float(s) for s in stderrs if s is not None]
    propagated = math.sqrt(sum(s * s for s in known)) / n if len(known) == n else None
    if n == 1:
        return Combined(mean, propagated, None, 1)
    scatter = statistics.stdev(values) / math.sqrt(n)
    if propagated is not None and propagated >= scatter:
        return Combined(mean, propagated, None, n)
    return Combined(mean, scatter, n - 1, n)


@dataclass(frozen=True)
class Trend:
    slope: float
    slope_stderr: float
    intercept: float
    n: int
    ci_low: float
    ci_high: float
    r_squared: float


def linear_trend(x, y) -> Trend:
    """Ordinary least squares y = a + b·x; stderr of b = √(s² / Σ(x − x̄)²), s² = SSR/(n − 2)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.size
    if n < 3 or np.ptp(x) == 0:
        raise ValueError("a trend needs at least 3 points at 2 or more distinct x")
    fit = stats.linregress(x, y)
    low, high = ci95(float(fit.slope), float(fit.stderr), n - 2)
    return Trend(float(fit.slope), float(fit.stderr), float(fit.intercept), int(n), low, high, float(fit.rvalue**2))


def median_or_none(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def most_common(values: Sequence):
    """The most frequent value (the first-seen of a tie is not guaranteed); None for an empty sequence."""
    return max(set(values), key=list(values).count) if values else None


# ---------------------------------------------------------------------------
# Derived metrics and their uncertainty
# ---------------------------------------------------------------------------


def quadrature_sum(values: Sequence[float], stderrs: Sequence[float | None]) -> tuple[float, float | None]:
    """Σxᵢ with δ = √Σδᵢ² (independent errors); δ is None when any δᵢ is missing or not finite."""
    total = sum(float(v) for v in values)
    if any(e is None or not math.isfinite(float(e)) for e in stderrs):
        return total, None
    return total, math.sqrt(sum(float(e) ** 2 for e in stderrs))


@dataclass(frozen=True)
class AreaSpecificResistance:
    """ASR = L/σ, Ω·cm², with its standard error and 95 % interval."""

    asr_ohm_cm2: float
    stderr_ohm_cm2: float | None
    ci_low_ohm_cm2: float | None
    ci_high_ohm_cm2: float | None


def separator_asr(*, thickness_um: float, thickness_stderr_um: float | None, sigma_s_per_cm: float,
                  sigma_stderr_s_per_cm: float | None, sigma_ci_low_s_per_cm: float | None,
                  sigma_ci_high_s_per_cm: float | None) -> AreaSpecificResistance:
    """ASR = L/σ with (δASR/ASR)² = (δσ/σ)² + (δL/L)².

    The interval is built in ln ASR = ln L − ln σ: σ's interval mapped through L/σ (its half-widths in
    ln σ, upper and lower apart), widened by the thickness error z·δL/L in quadrature; without an
    interval on σ it is `ci95_positive(ASR, δASR)`. Both bounds stay positive.
    """
    thickness_cm = thickness_um * 1e-4
    asr = thickness_cm / sigma_s_per_cm
    rel_sigma = (sigma_stderr_s_per_cm / sigma_s_per_cm) if sigma_stderr_s_per_cm is not None else None
    rel_l = (thickness_stderr_um / thickness_um) if thickness_stderr_um else 0.0
    stderr = asr * math.hypot(rel_sigma, rel_l) if rel_sigma is not None else None
    low = high = None
    if sigma_ci_low_s_per_cm and sigma_ci_high_s_per_cm and sigma_ci_low_s_per_cm > 0:
        up_ln = max(math.log(sigma_ci_high_s_per_cm / sigma_s_per_cm), 0.0)
        down_ln = max(math.log(sigma_s_per_cm / sigma_ci_low_s_per_cm), 0.0)
        low = asr * math.exp(-math.hypot(up_ln, Z_95 * rel_l))
        high = asr * math.exp(math.hypot(down_ln, Z_95 * rel_l))
    elif stderr is not None:
        low, high = ci95_positive(asr, stderr)
    return AreaSpecificResistance(asr, stderr, low, high)


def ccd_interval(ccd_ma_per_cm2: float, step_ma_per_cm2: float) -> tuple[float, float, float]:
    """(stderr, low, high) of a critical current density read off a stepped test.

    The true CCD lies between the last step survived and the failing one: uniform over one step,
    so stderr = step/√12, and the interval is [max(CCD − step, 0), CCD].
    """
    return step_ma_per_cm2 / math.sqrt(12), max(ccd_ma_per_cm2 - step_ma_per_cm2, 0.0), ccd_ma_per_cm2


# ---------------------------------------------------------------------------
# Comparable conditions, round robins, literature percentiles
# ---------------------------------------------------------------------------


def temperatures_comparable(a_c: float | None, b_c: float | None) -> bool:
    """Both unknown, or both known and within TEMPERATURE_TOLERANCE_C of each other."""
    if a_c is not None and b_c is not None:
        return abs(a_c - b_c) <= TEMPERATURE_TOLERANCE_C
    return (a_c is None) == (b_c is None)


def pressures_comparable(low_mpa: float, high_mpa: float) -> bool:
    """Two pressures (or a range's ends) count as the same condition within PRESSURE_FACTOR."""
    return max(low_mpa, high_mpa) / min(low_mpa, high_mpa) <= PRESSURE_FACTOR


def relative_spread(values: Sequence[float]) -> float | None:
    """Round-robin dispersion (max − min)/|median|; None when the median is zero."""
    median = float(statistics.median(values))
    return (max(values) - min(values)) / abs(median) if median else None


def percentile_in_sorted(sorted_values: Sequence[float], value: float) -> float | None:
    """Share (0–100) of `sorted_values` below `value`, ties counting half; None when empty."""
    if not sorted_values:
        return None
    below = bisect.bisect_left(sorted_values, value)
    equal = bisect.bisect_right(sorted_values, value) - below
    return 100.0 * (below + 0.5 * equal) / len(sorted_values)
