"""Distribution of relaxation times (DRT) by Tikhonov-regularised,
non-negative least squares.

Model (γ in Ohm per unit ln τ, discretised on a log τ grid)::

    Z(ω) = R_∞ [+ jωL] + ∫ γ(ln τ) / (1 + jωτ) d ln τ
         ≈ R_∞ [+ jωL] + Σ_k γ_k Δ / (1 + jωτ_k),     Δ = ln τ_{k+1} − ln τ_k

fitted to |Z|-weighted real and imaginary parts together, with the penalty
λ‖D γ‖² (D: first or second differences) and γ, R_∞, L ≥ 0 (scipy nnls on
the augmented system [A; √λ D] x = [b; 0]). λ is chosen by generalised
cross-validation, GCV(λ) = N‖A x_λ − b‖² / (N − tr H_λ)², with the
influence matrix H_λ evaluated on the non-negative solution's active set
(Wahba 1977; for DRT, Saccoccio et al., Electrochim. Acta 147 (2014) 470),
or by the corner of the L-curve (largest curvature of log‖Dγ‖ against
log‖residual‖, Hansen 1992).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from .fitting import FitError, _validated

__all__ = ["DRTResult", "compute_drt"]


@dataclass(frozen=True)
class DRTResult:
    """DRT on ``tau_s`` (s); ``gamma_ohm`` in Ohm per unit ln τ (the area
    under a peak, Σ γ Δln τ, is that process's resistance); ``r_inf_ohm``;
    chosen ``lambda_``; peak positions/heights; ``predicted`` complex model
    impedance at the input frequencies; ``inductance_h`` if fitted."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    r_inf_ohm: float
    lambda_: float
    peaks_tau_s: np.ndarray
    peaks_gamma: np.ndarray
    predicted: np.ndarray
    inductance_h: float = 0.0


def _difference_matrix(k: int, order: int) -> np.ndarray:
    if order == 1:
        return np.diff(np.eye(k), 1, axis=0)
    if order == 2:
        return np.diff(np.eye(k), 2, axis=0)
    raise FitError("derivative order must be 1 or 2")


def _solve(a, b, reg, lam):
    aug = np.vstack([a, np.sqrt(lam) * reg])
    x, _ = nnls(aug, np.concatenate([b, np.zeros(reg.shape[0])]), maxiter=50 * a.shape[1])
    return x


def compute_drt(
    frequencies,
    impedances,
    *,
    n_tau: int | None = None,
    lambda_: float | None = None,
    method: str = "gcv",
    derivative: int = 2,
    fit_inductance: bool = False,
) -> DRTResult:
    """DRT of a spectrum (frequencies Hz, complex impedance Ohm).

    ``n_tau``: grid points (default 10 per decade over 1/(2π f_max)/10 …
    10/(2π f_min)); ``lambda_``: fixed regularisation, else chosen by
    ``method`` ('gcv' or 'lcurve'); ``derivative``: order (1 or 2) of the
    smoothness penalty; ``fit_inductance``: add a series L ≥ 0.
    """
    f, z = _validated(frequencies, impedances)
    if method not in ("gcv", "lcurve"):
        raise FitError(f"method must be 'gcv' or 'lcurve', got {method!r}")
    w = 2 * np.pi * f
    lo = np.log10(0.1 / w.max())
    hi = np.log10(10.0 / w.min())
    k = int(n_tau) if n_tau else int(np.ceil(10 * (hi - lo))) + 1
    tau = np.logspace(lo, hi, k)
    d_ln = np.log(tau[1] / tau[0])
    z_scale = float(np.median(np.abs(z)))
    weight = 1.0 / np.abs(z)

    kernel = d_ln / (1 + 1j * w[:, None] * tau[None, :])
    cols = [np.ones((f.size, 1), complex)]
    if fit_inductance:
        # Scaled so that its coefficient is O(1) like the others.
        cols.append((1j * w / w.max())[:, None] * z_scale)
    cols.append(kernel)
    model = np.hstack(cols)
    n_extra = 2 if fit_inductance else 1
    # Unknowns are in units of z_scale so that λ has the same meaning for any
    # impedance magnitude.
    a_c = model * z_scale * weight[:, None]
    if fit_inductance:
        a_c[:, 1] /= z_scale
    a = np.vstack([a_c.real, a_c.imag])
    b = np.concatenate([z.real * weight, z.imag * weight])
    reg = np.zeros((k - derivative, n_extra + k))
    reg[:, n_extra:] = _difference_matrix(k, derivative)

    if lambda_ is not None:
        lam = float(lambda_)
        x = _solve(a, b, reg, lam)
    else:
        lams = np.logspace(-5, 1, 25)
        xs = [_solve(a, b, reg, lam) for lam in lams]
        res = np.array([np.linalg.norm(a @ x - b) for x in xs])
        if method == "gcv":
            n = b.size
            scores = []
            for lam, x, r in zip(lams, xs, res):
                act = x > 0
                a_s = a[:, act]
                r_s = reg[:, act]
                g = a_s.T @ a_s + lam * r_s.T @ r_s
                try:
                    trace_h = np.trace(a_s @ np.linalg.solve(g, a_s.T))
                except np.linalg.LinAlgError:
                    trace_h = np.trace(a_s @ np.linalg.pinv(g) @ a_s.T)
                scores.append(n * r**2 / max(n - trace_h, 1e-12) ** 2)
            best = int(np.argmin(scores))
        else:
            eta = np.array([np.linalg.norm(reg @ x) for x in xs])
            lr, le = np.log(np.maximum(res, 1e-300)), np.log(np.maximum(eta, 1e-300))
            t = np.log(lams)
            d1r, d1e = np.gradient(lr, t), np.gradient(le, t)
            d2r, d2e = np.gradient(d1r, t), np.gradient(d1e, t)
            curvature = (d1r * d2e - d2r * d1e) / np.maximum((d1r**2 + d1e**2) ** 1.5, 1e-300)
            best = int(np.argmax(curvature[1:-1])) + 1
        lam, x = float(lams[best]), xs[best]

    r_inf = float(x[0] * z_scale)
    inductance = float(x[1] * z_scale / w.max()) if fit_inductance else 0.0
    gamma = x[n_extra:] * z_scale
    predicted = model @ np.concatenate([[r_inf], [inductance * w.max() / z_scale] if fit_inductance else [], gamma])
    peaks, _ = find_peaks(np.concatenate([[0.0], gamma, [0.0]]), prominence=0.05 * max(gamma.max(), 1e-300))
    peaks = peaks - 1
    return DRTResult(
        tau_s=tau, gamma_ohm=gamma, r_inf_ohm=r_inf, lambda_=lam,
        peaks_tau_s=tau[peaks], peaks_gamma=gamma[peaks], predicted=predicted,
        inductance_h=inductance,
    )
