"""Linear Kramers–Kronig validity test (Lin-KK).

Schönleber, Klotz, Ivers-Tiffée, "A Method for Improving the Robustness of
linear Kramers-Kronig Validity Tests", Electrochimica Acta 131 (2014) 20–27,
doi:10.1016/j.electacta.2014.01.034.

The spectrum is fitted with a model that satisfies the KK relations by
construction::

    Z_KK(ω) = R_0 + jωL [+ 1/(jωC)] + Σ_{k=1..M} R_k / (1 + jωτ_k)

with τ_1 = 1/ω_max, τ_M = 1/ω_min and the others log-spaced in between. Only
the linear parameters (R_0, R_k, L, 1/C) are fitted, by linear least squares
on |Z|-weighted data. M is increased from 1 until

    μ = 1 − Σ_{R_k<0} |R_k| / Σ_{R_k≥0} |R_k|

drops below the cut-off c (over-fitting shows up as negative R_k). A
spectrum that is linear, causal and stable leaves residuals at noise level.

Verdict (noise-aware). The largest single residual is no verdict: with
Gaussian noise of σ per point the maximum of ~150 residuals is ~3σ, so a
fixed 1 % limit fails good data with 0.4 % noise. What a KK violation
(drift, a resistance changing during the sweep) leaves is *structure*: a
residual that stays on one side of zero over a decade of frequency. So

* the noise level σ̂ is estimated from the second differences of the
  residuals along frequency, d_i = r_{i−1} − 2r_i + r_{i+1}, which a smooth
  systematic residual hardly changes (var d = 6σ² for white noise), robustly:
  σ̂ = 1.4826·median|d| / √6 (real and imaginary parts pooled);
* the systematic residual is the moving average of the residuals over
  ``SMOOTHING_WINDOW`` = 9 neighbouring points (about a decade at 10 points
  per decade), in which white noise shrinks to σ/3 and structure survives;
* the spectrum passes when the largest |moving average| stays within
  limit = max(``threshold``, ``NOISE_FACTOR``·σ̂/√window): the floor
  ``DEFAULT_KK_THRESHOLD`` = 0.4 % sits above what Lin-KK leaves on
  noise-free data (a CPE electrode tail, which its series C only
  approximates, leaves ≤ 0.3 % after smoothing) and below what a 5 % drift
  of |Z| over the sweep leaves (0.5–1 %); the noise term
  (4.5 σ̂/3 = 1.5 σ̂) keeps noisy but valid spectra passing;
* the noise term cannot lift the limit above ``LIMIT_CEILING`` = 1.5 %: a
  smoothed residual above 1.5 % of |Z| is structure whatever the noise
  estimate says (on a short spectrum the second differences mix structure
  into σ̂, so the estimate itself is not to be trusted that far; 1.5 % is the
  limit at σ̂ = 1 %, the noisiest spectra the calibration below covers);
* a spectrum with fewer than ``MIN_POINTS`` = 20 points, or fewer than
  ``MIN_POINTS_PER_DECADE`` = 5 points per decade of frequency, gets the
  verdict ``"insufficient_data"`` (not enough data to judge) instead of a
  pass or a fail: the smoothing window of 9 points then spans two decades or
  more (it averages real structure away), the noise estimate from second
  differences of points half a decade apart measures curvature rather than
  noise, and Lin-KK with 3 elements per decade has too few residual degrees
  of freedom to leave structure visible. The residuals are still computed.

``verdict`` is one of ``VERDICTS`` = ("passed", "failed",
"insufficient_data"); ``passed`` is ``verdict == "passed"`` (so a spectrum
too short to judge is never reported as a pass).

Calibration (``tests/analysis/eis/test_kramers_kronig.py``, synthetic ASSB
spectra with CPE spikes and inductive tails, Gaussian noise per component):
no false alarm in 1440 spectra at 0.2–1 % noise; a 5 % drift of |Z| over
the sweep is caught in ≥ 90 % of spectra at 0.4 % noise and in all at 0.2 %,
a 10 % drift always. The detection limit grows with the noise: at 1 % noise
only drifts well above 5 % are seen — that is what the data can support.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fitting import FitError, _validated

__all__ = [
    "KramersKronigResult", "kramers_kronig_test", "noise_level", "systematic_residual",
    "DEFAULT_KK_THRESHOLD", "SMOOTHING_WINDOW", "NOISE_FACTOR", "LIMIT_CEILING",
    "MIN_POINTS", "MIN_POINTS_PER_DECADE", "VERDICTS",
]

#: Floor of the limit on the systematic (smoothed) residual, relative to |Z|.
DEFAULT_KK_THRESHOLD = 0.004
#: Neighbouring points averaged into the systematic residual.
SMOOTHING_WINDOW = 9
#: The limit is at least this many standard deviations of smoothed white noise.
NOISE_FACTOR = 4.5
#: The noise term cannot lift the limit above this (relative to |Z|).
LIMIT_CEILING = 0.015
#: Fewer points than this: "insufficient_data".
MIN_POINTS = 20
#: Fewer points per decade of frequency than this: "insufficient_data".
MIN_POINTS_PER_DECADE = 5.0
VERDICTS = ("passed", "failed", "insufficient_data")


@dataclass(frozen=True)
class KramersKronigResult:
    """Lin-KK outcome: number of RC elements ``m``, its ``mu``, residuals
    (Z − Z_KK)/|Z| per point and their largest absolute value
    ``max_abs_residual``; ``noise_level`` σ̂ (per residual, from second
    differences), ``systematic_residual`` (largest |moving average| over
    ``SMOOTHING_WINDOW`` points), the ``threshold`` it was held to
    (min(LIMIT_CEILING, max(floor, NOISE_FACTOR·σ̂/√window))), the
    ``verdict`` ("passed": systematic_residual ≤ threshold, "failed", or
    "insufficient_data" when the spectrum is too short or sparse to judge,
    ``reason`` says why) and ``passed`` = (verdict == "passed").
    ``points_per_decade`` is the measured density. ``predicted`` is Z_KK."""

    m: int
    mu: float
    residuals_real: np.ndarray
    residuals_imag: np.ndarray
    max_abs_residual: float
    passed: bool
    threshold: float
    predicted: np.ndarray = None
    tau_s: np.ndarray = None
    noise_level: float = 0.0
    systematic_residual: float = 0.0
    verdict: str = "passed"
    reason: str = ""
    points_per_decade: float = 0.0


def noise_level(residuals_real, residuals_imag) -> float:
    """σ̂ of white noise in the residuals: 1.4826·median|r_{i−1} − 2r_i + r_{i+1}| / √6 (both parts pooled)."""
    d2 = np.concatenate([np.diff(np.asarray(residuals_real, float), 2), np.diff(np.asarray(residuals_imag, float), 2)])
    return float(1.4826 * np.median(np.abs(d2)) / np.sqrt(6.0)) if d2.size else 0.0


def systematic_residual(residuals_real, residuals_imag, window: int = SMOOTHING_WINDOW) -> float:
    """Largest |moving average over ``window`` neighbouring points| of either residual part."""
    worst = 0.0
    for part in (np.asarray(residuals_real, float), np.asarray(residuals_imag, float)):
        w = max(1, min(int(window), part.size))
        if part.size:
            worst = max(worst, float(np.max(np.abs(np.convolve(part, np.ones(w) / w, mode="valid")))))
    return worst


def _time_constants(frequencies_hz: np.ndarray, m: int) -> np.ndarray:
    """τ_k log-spaced from 1/ω_max to 1/ω_min (a single element takes 1/ω_min)."""
    t_min = 1.0 / (2 * np.pi * frequencies_hz.max())
    t_max = 1.0 / (2 * np.pi * frequencies_hz.min())
    if m == 1:
        return np.array([t_max])
    return np.logspace(np.log10(t_min), np.log10(t_max), m)


def _fit_linear(f, z, tau, fit_type, add_capacitance):
    """Return coefficient vector [R_0, R_1..R_M, (1/C), L] and Z_KK."""
    w = 2 * np.pi * f
    scale = 1.0 / np.abs(z)
    voigt = 1.0 / (1.0 + 1j * w[:, None] * tau[None, :])
    cols = [np.ones((f.size, 1), complex), voigt]
    if add_capacitance:
        cols.append((1.0 / (1j * w))[:, None])
    cols.append((1j * w)[:, None])
    a = np.hstack(cols) * scale[:, None]
    m = tau.size
    if fit_type == "complex":
        x = np.linalg.lstsq(np.vstack([a.real, a.imag]),
                            np.concatenate([z.real * scale, z.imag * scale]), rcond=None)[0]
    elif fit_type == "real":
        # R_0 and R_k from Z' alone; the purely reactive terms from what is
        # left of Z'' afterwards.
        x = np.zeros(a.shape[1])
        x[: m + 1] = np.linalg.lstsq(a.real[:, : m + 1], z.real * scale, rcond=None)[0]
        rest = z.imag * scale - a.imag[:, : m + 1] @ x[: m + 1]
        x[m + 1 :] = np.linalg.lstsq(a.imag[:, m + 1 :], rest, rcond=None)[0]
    elif fit_type == "imag":
        # R_k and reactive terms from Z''; R_0 as the weighted mean of what is
        # left of Z'.
        x = np.zeros(a.shape[1])
        cols_im = list(range(1, a.shape[1]))
        x[cols_im] = np.linalg.lstsq(a.imag[:, cols_im], z.imag * scale, rcond=None)[0]
        rest = z.real * scale - a.real[:, cols_im] @ x[cols_im]
        x[0] = np.sum(rest * scale) / np.sum(scale**2)
    else:
        raise FitError(f"fit_type must be 'complex', 'real' or 'imag', got {fit_type!r}")
    z_kk = np.hstack(cols) @ x
    return x, z_kk


def _mu(r_k: np.ndarray) -> float:
    positive = np.abs(r_k[r_k >= 0]).sum()
    negative = np.abs(r_k[r_k < 0]).sum()
    return 1.0 - negative / positive if positive > 0 else -np.inf


def kramers_kronig_test(
    frequencies,
    impedances,
    *,
    c: float = 0.85,
    max_m: int | None = None,
    min_m: int | None = None,
    fit_type: str = "complex",
    add_capacitance: bool = False,
    threshold: float = DEFAULT_KK_THRESHOLD,
) -> KramersKronigResult:
    """Lin-KK test of a spectrum (frequencies Hz, complex impedance Ohm).

    M grows from ``min_m`` until μ < ``c`` or M reaches ``max_m`` (default
    50, never more than the data allow). ``min_m`` defaults to 3 per decade
    of measured frequency: with fewer elements an under-fitted spectrum of
    sharp arcs also produces negative R_k, so μ falls below c long before
    the fit reaches noise level. ``min_m=1`` gives the plain Schönleber
    search (as impedance.py's ``linKK``). ``fit_type``
    chooses which parts are fitted ('complex', 'real' or 'imag'; Schönleber
    et al. recommend complex). Passes when the systematic residual (the
    residuals (Z − Z_KK)/|Z| averaged over ``SMOOTHING_WINDOW`` points) is
    within max(``threshold``, ``NOISE_FACTOR``·σ̂/√window), σ̂ the noise level
    of the residuals, capped at ``LIMIT_CEILING`` (module docstring; floor
    ``DEFAULT_KK_THRESHOLD`` = 0.4 %). Fewer than ``MIN_POINTS`` points or
    ``MIN_POINTS_PER_DECADE`` per decade: verdict "insufficient_data".
    """
    f, z = _validated(frequencies, impedances)
    n_extra = 2 + (1 if add_capacitance else 0)
    limit = f.size - n_extra if fit_type != "complex" else 2 * f.size - n_extra
    max_m = min(50, limit) if max_m is None else min(int(max_m), limit)
    if max_m < 1:
        raise FitError(f"{f.size} points are too few for a Lin-KK test")
    if min_m is None:
        min_m = int(np.ceil(3 * np.log10(f.max() / f.min())))
    m = max(0, min(int(min_m), max_m) - 1)
    mu = np.inf
    while mu > c and m < max_m:
        m += 1
        tau = _time_constants(f, m)
        x, z_kk = _fit_linear(f, z, tau, fit_type, add_capacitance)
        mu = _mu(x[1 : m + 1])
    resid = (z - z_kk) / np.abs(z)
    # Residuals in frequency order, so that neighbours in the smoothing are neighbours in frequency.
    order = np.argsort(f)
    worst = float(np.max(np.maximum(np.abs(resid.real), np.abs(resid.imag))))
    sigma = noise_level(resid.real[order], resid.imag[order])
    window = min(SMOOTHING_WINDOW, f.size)
    systematic = systematic_residual(resid.real[order], resid.imag[order], window)
    limit = max(float(threshold), min(LIMIT_CEILING, NOISE_FACTOR * sigma / np.sqrt(window)))
    decades = float(np.log10(f.max() / f.min()))
    density = f.size / decades if decades > 0 else 0.0
    if f.size < MIN_POINTS or density < MIN_POINTS_PER_DECADE:
        verdict = "insufficient_data"
        reason = (
            f"not enough data to judge: {f.size} points, {density:.1f} per decade "
            f"(needs at least {MIN_POINTS} points and {MIN_POINTS_PER_DECADE:g} per decade)"
        )
    elif systematic <= limit:
        verdict, reason = "passed", f"smoothed residual {systematic:.2%} within the limit {limit:.2%}"
    else:
        verdict, reason = "failed", f"smoothed residual {systematic:.2%} above the limit {limit:.2%}"
    return KramersKronigResult(
        m=m, mu=float(mu), residuals_real=resid.real, residuals_imag=resid.imag,
        max_abs_residual=worst, passed=verdict == "passed", threshold=float(limit),
        predicted=z_kk, tau_s=tau, noise_level=sigma, systematic_residual=systematic,
        verdict=verdict, reason=reason, points_per_decade=density,
    )
