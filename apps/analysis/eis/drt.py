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

GCV with non-negativity is nearly flat over decades of λ; the λ taken is
the largest whose score is within one standard error of the minimum,
GCV(λ) ≤ (1 + √(2/n))·min GCV, n the number of real data values (the
smoothest γ the data cannot tell from the best; the "one-standard-error
rule" of cross-validation).

Choice of λ that does not sit at the edge of its grid: the search starts on
``LAMBDA_GRID`` (10⁻⁸ … 10², 4 per decade) and, while the best λ is at an
end of the grid, extends the grid by two decades on that side, up to
``LAMBDA_LIMITS`` (10⁻¹⁴ … 10⁶). ``lambda_interior`` in the result says
whether the chosen λ is a true interior minimum (GCV) or corner (L-curve);
it is False only when the criterion still runs to a hard limit (noise-free
data: GCV keeps falling as λ → 0).

Peaks: local maxima of γ inside the τ grid (not on its end points) with
their topographic prominence (height above
the higher of the two lowest points separating it from a higher peak or
the ends, scipy.signal.peak_prominences). Ripples that Tikhonov
regularisation with non-negativity leaves next to a broad (depressed) peak
are small against the largest prominence; peaks whose prominence is below
``MIN_RELATIVE_PROMINENCE`` = 10 % of the largest are dropped as side
lobes. A real process with less than a tenth of the largest peak's
prominence is then not listed (it stays in ``gamma_ohm``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from .fitting import FitError, _validated

__all__ = ["DRTResult", "compute_drt", "MIN_RELATIVE_PROMINENCE", "LAMBDA_GRID", "LAMBDA_LIMITS"]

#: Peaks with a prominence below this share of the largest are side lobes.
MIN_RELATIVE_PROMINENCE = 0.10
#: Starting grid of λ (extended while the best value is at one of its ends).
LAMBDA_GRID = np.logspace(-8, 2, 41)
#: The grid is never extended beyond these.
LAMBDA_LIMITS = (1e-14, 1e6)


@dataclass(frozen=True)
class DRTResult:
    """DRT on ``tau_s`` (s); ``gamma_ohm`` in Ohm per unit ln τ (the area
    under a peak, Σ γ Δln τ, is that process's resistance); ``r_inf_ohm``;
    chosen ``lambda_`` and whether it is an interior optimum of the
    criterion (``lambda_interior``); peak positions/heights and
    ``peaks_prominence_ohm`` (side lobes below MIN_RELATIVE_PROMINENCE of the
    largest prominence dropped); ``predicted`` complex model impedance at
    the input frequencies; ``inductance_h`` if fitted."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    r_inf_ohm: float
    lambda_: float
    peaks_tau_s: np.ndarray
    peaks_gamma: np.ndarray
    predicted: np.ndarray
    inductance_h: float = 0.0
    peaks_prominence_ohm: np.ndarray = None
    lambda_interior: bool = True


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

    interior = True
    if lambda_ is not None:
        lam = float(lambda_)
        x = _solve(a, b, reg, lam)
    else:
        lam, x, interior = _choose_lambda(a, b, reg, method)

    r_inf = float(x[0] * z_scale)
    inductance = float(x[1] * z_scale / w.max()) if fit_inductance else 0.0
    gamma = x[n_extra:] * z_scale
    predicted = model @ np.concatenate([[r_inf], [inductance * w.max() / z_scale] if fit_inductance else [], gamma])
    peaks, prominence = _peaks(gamma)
    return DRTResult(
        tau_s=tau, gamma_ohm=gamma, r_inf_ohm=r_inf, lambda_=lam,
        peaks_tau_s=tau[peaks], peaks_gamma=gamma[peaks], predicted=predicted,
        inductance_h=inductance, peaks_prominence_ohm=prominence, lambda_interior=interior,
    )


def _peaks(gamma):
    """Indices and prominences (Ohm) of the peaks of γ that are not side lobes.

    A maximum on the first or last grid point (a decade beyond the measured
    range) is not a located peak: its position is the grid's, and a
    regularised γ piles up there when a process is only partly inside the
    window."""
    peaks, props = find_peaks(gamma, prominence=1e-12 * max(gamma.max(), 1e-300))
    prominence = props["prominences"]
    if peaks.size == 0:
        return peaks, prominence
    keep = prominence >= MIN_RELATIVE_PROMINENCE * prominence.max()
    return peaks[keep], prominence[keep]


def _criterion(a, b, reg, lams, xs, method):
    """GCV score (lower is better) or minus the L-curve curvature, per λ."""
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
        return np.array(scores)
    eta = np.array([np.linalg.norm(reg @ x) for x in xs])
    lr, le = np.log(np.maximum(res, 1e-300)), np.log(np.maximum(eta, 1e-300))
    t = np.log(lams)
    d1r, d1e = np.gradient(lr, t), np.gradient(le, t)
    d2r, d2e = np.gradient(d1r, t), np.gradient(d1e, t)
    curvature = (d1r * d2e - d2r * d1e) / np.maximum((d1r**2 + d1e**2) ** 1.5, 1e-300)
    # The ends of the grid have one-sided derivatives: never a corner there.
    curvature[0] = curvature[-1] = -np.inf
    return -curvature


def _choose_lambda(a, b, reg, method):
    """(λ, solution, interior). GCV: the largest λ whose score is within one
    standard error of the minimum, GCV ≤ (1 + √(2/n))·min (the score is a
    residual variance from n values; with the non-negativity constraint it
    is nearly flat over decades of λ, and its smallest value among nearly
    equal ones would pick a rough, under-regularised γ with spurious peaks).
    L-curve: the largest curvature. The grid is extended by two decades on a
    side while the minimum, or the chosen λ, is at (for the L-curve: next
    to) that end; ``interior`` is False when a hard limit stopped that."""
    step = np.log10(LAMBDA_GRID[1] / LAMBDA_GRID[0])
    lams = list(LAMBDA_GRID)
    xs = [_solve(a, b, reg, lam) for lam in lams]
    edge = 0 if method == "gcv" else 1
    while True:
        score = _criterion(a, b, reg, np.array(lams), xs, method)
        lowest = int(np.argmin(score))
        best = lowest
        if method == "gcv":
            within = np.nonzero(score <= (1 + np.sqrt(2.0 / b.size)) * score[lowest])[0]
            best = int(within.max())
        can_low = lams[0] > LAMBDA_LIMITS[0] * (1 + 1e-9)
        can_high = lams[-1] < LAMBDA_LIMITS[1] * (1 - 1e-9)
        grow_low = lowest <= edge and can_low
        grow_high = max(best, lowest) >= len(lams) - 1 - edge and can_high
        if not (grow_low or grow_high):
            interior = edge < lowest < len(lams) - 1 - edge and best < len(lams) - 1 - edge
            return float(lams[best]), xs[best], interior
        if grow_low:
            new = [lams[0] * 10 ** (-step * i) for i in range(int(round(2 / step)), 0, -1)]
            new = [v for v in new if v >= LAMBDA_LIMITS[0] * (1 - 1e-9)]
            xs = [_solve(a, b, reg, v) for v in new] + xs
            lams = new + lams
        if grow_high:
            new = [lams[-1] * 10 ** (step * i) for i in range(1, int(round(2 / step)) + 1)]
            new = [v for v in new if v <= LAMBDA_LIMITS[1] * (1 + 1e-9)]
            lams = lams + new
            xs = xs + [_solve(a, b, reg, v) for v in new]
