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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fitting import FitError, _validated

__all__ = ["KramersKronigResult", "kramers_kronig_test", "DEFAULT_KK_THRESHOLD"]

#: Largest |residual| (relative to |Z|) a spectrum may show and still pass.
#: 1 % sits above the noise of good potentiostat data (the real ZPlot test
#: files stay below 0.7 %) and below what drift leaves: a 10 % change of |Z|
#: over the run gives residuals of 1.1–1.4 % on those files.
DEFAULT_KK_THRESHOLD = 0.01


@dataclass(frozen=True)
class KramersKronigResult:
    """Lin-KK outcome: number of RC elements ``m``, its ``mu``, residuals
    (Z − Z_KK)/|Z| per point, their largest absolute value, and ``passed``
    = max_abs_residual ≤ ``threshold``. ``predicted`` is Z_KK."""

    m: int
    mu: float
    residuals_real: np.ndarray
    residuals_imag: np.ndarray
    max_abs_residual: float
    passed: bool
    threshold: float
    predicted: np.ndarray = None
    tau_s: np.ndarray = None


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
    et al. recommend complex). Passes when every residual (Z − Z_KK)/|Z| is
    within ``threshold`` (default 1 %, see ``DEFAULT_KK_THRESHOLD``).
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
    worst = float(np.max(np.maximum(np.abs(resid.real), np.abs(resid.imag))))
    return KramersKronigResult(
        m=m, mu=float(mu), residuals_real=resid.real, residuals_imag=resid.imag,
        max_abs_residual=worst, passed=worst <= threshold, threshold=float(threshold),
        predicted=z_kk, tau_s=tau,
    )
