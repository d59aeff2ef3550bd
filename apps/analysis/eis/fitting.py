"""Complex non-linear least-squares fitting of equivalent circuits.

The fitter needs no initial guess: it reads the spectrum (high-frequency
real intercept, arcs, low-frequency tail, inductive part) to build a
structural first guess for every element of the circuit, then runs a few
perturbed starts and keeps the best.

Objective (weighted, real and imaginary parts stacked)::

    χ² = Σ_i [w'_i (Z'_model,i − Z'_i)]² + [w''_i (Z''_model,i − Z''_i)]²

with weights ``modulus``: w' = w'' = 1/|Z_i|; ``proportional``:
w' = 1/|Z'_i|, w'' = 1/|Z''_i|; ``unit``: w' = w'' = 1.

Parameters spanning decades (R, C, Q, L, σ, τ) are searched in log space,
exponents (CPE n, La α) linearly, by a compact box-constrained
Levenberg–Marquardt with the analytic Jacobian and a step cap (at most a
factor e² per iteration). Standard errors come from the linear-space
covariance s²·(JᵀJ)⁻¹ of the weighted problem, s² = χ²/(2N − p).

Starting points, in order: the structural guess; alternative arc
assignments (block order, invented arcs for blocks whose arc is not
visible); a scan placing each block's arc at every decade of the measured
range (arcs hidden under a tail); arcs read without removing the tail;
random log-normal perturbations. A given ``initial_guess`` and any
``seed_parameters`` (e.g. the result at the neighbouring temperature of a
series) are tried first.

When the search stops (evidence, not a fixed count): as soon as a start
reaches the cost a flexible KK-compliant linear model of the same data
implies (scaled to the circuit's degrees of freedom, ×1.15) with no
element pinned to a bound; or when ``AGREEING_STARTS`` = 3 independent
starts end within ``AGREEMENT_RTOL`` = 0.1 % of the best cost found,
unless that cost is above ``POOR_FIT_FACTOR`` = 3 times the noise-level
cost or an element is switched off (a log parameter on its lower bound or
four decades below the structural guess's value):
a wrong basin attracts several starts too; or
when the budget is spent: ``DEFAULT_MAX_STARTS`` = 40 starts, or
``time_budget_s`` seconds of wall time if given (off by default, so that
results do not depend on the machine's load). Finally every element
switched off in the best point is switched back on at the data's scale
for it (×1, ×0.1, ×0.01) and refitted from there.

Bounds that decide the answer: a free parameter that ends on a bound given
by the caller (``bounds``, e.g. a protocol's CPE n ≥ 0.4) that is not the
element's physical limit (the element types' default bounds: R, C, Q, L,
σ, τ > 0 down to a numeric floor; CPE n, La α in [0, 1]) is refitted from
the optimum with that bound relaxed to the physical limit. The result
carries a :class:`BoundFinding` per such parameter (bound, value and cost
at the bound, value and cost relaxed). With ``bound_policy="report"`` (the
default) the bounded fit is returned with the findings; with
``bound_policy="relax"`` the relaxed fit is returned (when its cost is
lower), the findings saying which bounds were released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import time

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from .circuits import Circuit, Element, Parallel, Series, parse_circuit

__all__ = ["BoundFinding", "FitError", "FitResult", "fit_circuit"]

WEIGHTINGS = ("modulus", "unit", "proportional")
BOUND_POLICIES = ("report", "relax")
#: Budget of starts when the evidence does not stop the search earlier.
DEFAULT_MAX_STARTS = 40
#: Independent starts that must reach the best cost (within AGREEMENT_RTOL).
AGREEING_STARTS = 3
AGREEMENT_RTOL = 1e-3
#: A best cost above this multiple of the noise-level cost is a poor fit: agreement does not stop the search.
POOR_FIT_FACTOR = 3.0


class FitError(ValueError):
    """The input cannot be fitted (bad shapes, NaN, too few points...)."""


@dataclass(frozen=True)
class BoundFinding:
    """A parameter that ended on a caller-given bound which is not a
    physical limit. ``side`` is "lower" or "upper"; ``bound`` the value it
    stopped at; ``physical_limit`` what the bound was relaxed to;
    ``cost_at_bound``/``cost_relaxed`` the fit cost (χ²/2) with the bound
    and relaxed; ``value_relaxed`` where the parameter went; ``relaxed``
    whether the returned fit is the relaxed one."""

    parameter: str
    side: str
    bound: float
    physical_limit: float
    cost_at_bound: float
    cost_relaxed: float
    value_relaxed: float
    relaxed: bool

    @property
    def cost_ratio(self) -> float:
        """cost_at_bound / cost_relaxed (≥ 1: how much the bound costs)."""
        return self.cost_at_bound / self.cost_relaxed if self.cost_relaxed > 0 else float("inf")

    def as_dict(self) -> dict:
        return {
            "parameter": self.parameter, "side": self.side, "bound": self.bound,
            "physical_limit": self.physical_limit, "cost_at_bound": self.cost_at_bound,
            "cost_relaxed": self.cost_relaxed, "value_relaxed": self.value_relaxed,
            "relaxed": self.relaxed,
        }


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_circuit`.

    ``parameters``/``stderr`` are dicts by parameter name (fixed parameters
    have stderr 0). ``covariance`` and ``correlations`` are square arrays in
    ``parameter_names`` order (rows/columns of fixed parameters are 0/NaN).
    ``chi_square`` is the weighted sum of squared residuals, ``cost`` is
    χ²/2 (the scipy convention), ``reduced_chi_square`` = χ²/(2N − p_free).
    ``residuals_real``/``residuals_imag`` are (Z − Z_model)/|Z| at the fitted
    frequencies (``frequencies_hz``, i.e. inside the frequency window);
    ``predicted`` is the model at *all* given frequencies.
    ``bound_findings``: :class:`BoundFinding` per parameter that ended on a
    caller-given bound that is not a physical limit (empty when none).
    """

    circuit: str
    parameter_names: list[str]
    parameters: dict[str, float]
    stderr: dict[str, float]
    covariance: np.ndarray
    correlations: np.ndarray
    chi_square: float
    reduced_chi_square: float
    residuals_real: np.ndarray
    residuals_imag: np.ndarray
    predicted: np.ndarray
    converged: bool
    cost: float
    weighting: str
    n_starts: int
    message: str
    frequencies_hz: np.ndarray = field(repr=False, default=None)
    bound_findings: tuple = ()


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _validated(frequencies, impedances):
    f = np.asarray(frequencies, dtype=float)
    z = np.asarray(impedances)
    if f.ndim != 1 or z.ndim != 1:
        raise FitError(f"frequencies and impedances must be 1-D, got shapes {f.shape} and {z.shape}")
    if f.shape != z.shape:
        raise FitError(f"shape mismatch: {f.size} frequencies but {z.size} impedances")
    if not np.iscomplexobj(z):
        raise FitError("impedances must be complex (Z' + jZ'')")
    z = z.astype(complex)
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(z))):
        raise FitError("frequencies and impedances must be finite (found NaN or inf)")
    if np.any(f <= 0):
        raise FitError("frequencies must be positive (Hz)")
    if np.any(z == 0):
        raise FitError("impedance of exactly zero cannot be weighted")
    return f, z


def _weights(z, weighting):
    if weighting == "modulus":
        w = 1.0 / np.abs(z)
        return w, w
    if weighting == "proportional":
        # Floor at a tiny share of |Z| so points on an axis do not blow up.
        floor = 1e-6 * np.abs(z)
        return 1.0 / np.maximum(np.abs(z.real), floor), 1.0 / np.maximum(np.abs(z.imag), floor)
    if weighting == "unit":
        one = np.ones(z.size)
        return one, one
    raise FitError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


# --------------------------------------------------------------------------
# Parameter transform: bounded sine map in log or linear space
# --------------------------------------------------------------------------


class _Transform:
    """Internal coordinates: u = ln p for log-scaled parameters, u = p for
    exponents; the box [a, b] is the bounds in the same coordinates."""

    def __init__(self, lower, upper, log_scale):
        self.log = np.asarray(log_scale, dtype=bool)
        lo = np.asarray(lower, float)
        hi = np.asarray(upper, float)
        self.a = np.where(self.log, np.log(np.maximum(lo, 1e-300)), lo)
        self.b = np.where(self.log, np.log(hi), hi)

    def to_internal(self, p):
        u = np.where(self.log, np.log(np.maximum(p, 1e-300)), p)
        return np.clip(u, self.a, self.b)

    def to_external(self, u):
        return np.where(self.log, np.exp(np.where(self.log, u, 0.0)), u)

    def derivative(self, u, p):
        return np.where(self.log, p, 1.0)


def _levenberg_marquardt(fun_jac, u0, a, b, max_step, *, max_iter=200, ftol=1e-10, xtol=1e-10, gtol=1e-7):
    """Box-constrained Levenberg–Marquardt (projected steps, Marquardt's
    diagonal scaling). Steps are capped at ``max_step`` per coordinate (a
    trust region: at most a factor e² per iteration for log parameters) so
    that a Gauss–Newton jump cannot throw an element into a flat region of
    the cost (e.g. a capacitor so small its branch is open).

    Converged when the relative cost decrease of a step is below ``ftol``,
    the step below ``xtol``, or every free column of J is orthogonal to the
    residual within ``gtol`` (cosine, as MINPACK's gtol).
    fun_jac(u) -> (r, J). Returns (u, cost, converged, n_iter, message) with
    cost = ½‖r‖²."""
    u = np.clip(u0, a, b)
    r, jac = fun_jac(u)
    cost = 0.5 * float(r @ r)
    lam = 1e-3
    n = u.size
    for it in range(1, max_iter + 1):
        g = jac.T @ r
        # Parameters sitting on a bound and pushed outward are frozen this step.
        active = ((u <= a) & (g > 0)) | ((u >= b) & (g < 0))
        A = jac.T @ jac
        d = np.diag(A).copy()
        cosine = np.abs(g) / np.sqrt(np.maximum(d, 1e-300) * max(2 * cost, 1e-300))
        if np.all(cosine[~active] <= gtol):
            return u, cost, True, it, "converged (gradient)"
        d[d <= 0] = 1e-12 * max(d.max(), 1e-300)
        while True:
            M = A + lam * np.diag(d)
            M[active, :] = 0.0
            M[:, active] = 0.0
            M[active, active] = 1.0
            rhs = -g.copy()
            rhs[active] = 0.0
            try:
                step = np.linalg.solve(M, rhs)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(M, rhs, rcond=None)[0]
            over = np.max(np.abs(step) / max_step)
            if over > 1:
                step = step / over
            u_new = np.clip(u + step, a, b)
            r_new, jac_new = fun_jac(u_new)
            cost_new = 0.5 * float(r_new @ r_new)
            if np.isfinite(cost_new) and cost_new < cost:
                break
            lam *= 4.0
            if lam > 1e12:
                return u, cost, True, it, "no further decrease possible"
        du = np.abs(u_new - u).max()
        rel_drop = (cost - cost_new) / max(cost, 1e-300)
        u, r, jac, cost = u_new, r_new, jac_new, cost_new
        lam = max(lam / 5.0, 1e-12)
        if rel_drop < ftol or du < xtol:
            return u, cost, True, it, "converged"
    return u, cost, False, max_iter, "iteration limit reached"


# --------------------------------------------------------------------------
# Reading the spectrum for a first guess
# --------------------------------------------------------------------------


@dataclass
class _Features:
    r_inf: float
    inductance: float
    arcs: list  # [(R ohm, tau s)] sorted by tau
    tail_n: float
    tail_q: float
    tail_sigma: float
    tail_c: float
    low_f_extra_r: float
    omega_min: float
    omega_max: float
    z_scale: float
    has_tail: bool
    alt_arcs: list = None  # arcs read without removing the tail first
    omega: np.ndarray = None  # ascending
    z_real: np.ndarray = None  # Z' at omega

    def arc_resistance_at(self, tau: float) -> float:
        """A plausible arc resistance for an arc at τ: Z'(ω = 1/τ) − R∞."""
        zr = float(np.interp(np.log(1.0 / tau), np.log(self.omega), self.z_real))
        return max(zr - self.r_inf, 0.05 * self.z_scale)


def _linear_floor_cost(f, z, w_re, w_im):
    """χ²/(2·dof) of a flexible KK-compliant linear model (R∞, L, series C
    and 3 RC elements per decade) under the fit's weights, i.e. the noise
    variance it implies; times (2N − p) it is roughly the cost a good circuit
    fit can reach, used to stop the multi-start search early."""
    w = 2 * np.pi * f
    tau = np.logspace(np.log10(1 / w.max()), np.log10(10 / w.min()),
                      int(np.ceil(3 * np.log10(10 * w.max() / w.min()))))
    voigt = 1.0 / (1 + 1j * w[:, None] * tau[None, :])
    a = np.hstack([np.ones((f.size, 1)), voigt, (1j * w)[:, None], (1 / (1j * w))[:, None]])
    a_r = np.vstack([a.real * w_re[:, None], a.imag * w_im[:, None]])
    b = np.concatenate([z.real * w_re, z.imag * w_im])
    a_r /= np.maximum(np.linalg.norm(a_r, axis=0), 1e-300)
    x = np.linalg.lstsq(a_r, b, rcond=None)[0]
    r = a_r @ x - b
    # Expected cost of a p-parameter fit at the same noise: scale by degrees of freedom.
    return 0.5 * float(r @ r) / max(b.size - a_r.shape[1], 1)


def _spectrum_features(f, z) -> _Features:
    order = np.argsort(f)[::-1]  # high → low frequency
    f = f[order]
    z = z[order]
    w = 2 * np.pi * f
    zr, zi = z.real, z.imag

    inductance = 0.0
    r_inf = float(np.min(zr[: max(3, len(zr) // 10)]))
    if zi[0] > 0:
        inductance = float(zi[0] / w[0])
        cross = np.nonzero(zi <= 0)[0]
        if cross.size:
            k = cross[0]
            t = zi[k - 1] / (zi[k - 1] - zi[k]) if k > 0 else 0.0
            r_inf = float(zr[k - 1] + t * (zr[k] - zr[k - 1])) if k > 0 else float(zr[k])
    r_inf = max(r_inf, 1e-6 * np.abs(z).max())

    # Low-frequency tail: slope of log(-Z'') against log ω at the lowest points.
    n_lf = min(5, max(3, len(f) // 8))
    mzi = -zi[-n_lf:]
    has_tail = bool(np.all(mzi > 0)) and mzi[-1] > mzi[0]
    if has_tail:
        slope = np.polyfit(np.log(w[-n_lf:]), np.log(mzi), 1)[0]
        tail_n = float(np.clip(-slope, 0.4, 1.0))
        has_tail = -slope > 0.25
    else:
        tail_n = 0.8
    mz_low = max(-zi[-1], 1e-3 * np.abs(z[-1]))
    w_min = w[-1]
    tail_q = float(np.sin(tail_n * np.pi / 2) / (mz_low * w_min**tail_n))
    tail_c = float(1.0 / (mz_low * w_min))
    tail_sigma = float(mz_low * np.sqrt(w_min))

    z_arcs = z
    if has_tail:
        # Take the blocking tail out first so that it cannot hide the arcs.
        z_arcs = z - np.exp(-tail_n * (np.log(w) + 0.5j * np.pi)) / tail_q
    arcs, r_inf_fit = _arcs_from_rc_distribution(w, z_arcs, r_inf, np.abs(z))
    # The tail estimate can be off; the arcs of the raw data give other starts.
    alt_arcs = _arcs_from_rc_distribution(w, z, r_inf, np.abs(z))[0] if has_tail else None
    if any(tau < 1.0 / w.max() for _, tau in arcs):
        # An arc above the highest frequency hides R∞ below Re Z(f_max).
        r_inf = min(r_inf, max(r_inf_fit, 0.02 * r_inf))
    r_arcs = sum(a[0] for a in arcs)
    low_f_extra_r = float(max(zr[-1] - r_inf - r_arcs, 0.1 * (zr[-1] - r_inf), 1e-6 * np.abs(z).max()))
    return _Features(
        r_inf=r_inf, inductance=inductance, arcs=arcs, tail_n=tail_n, tail_q=tail_q,
        tail_sigma=tail_sigma, tail_c=tail_c, low_f_extra_r=low_f_extra_r,
        omega_min=float(w[-1]), omega_max=float(w[0]), z_scale=float(np.median(np.abs(z))),
        has_tail=has_tail, alt_arcs=alt_arcs, omega=w[::-1].copy(), z_real=zr[::-1].copy(),
    )


_TAIL_EXPONENTS = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


def _arcs_from_rc_distribution(w, z, r_inf, z_abs):
    """Arcs (R, τ) from a coarse non-negative RC-distribution fit.

    Voigt elements R_k/(1 + jωτ_k) on a log τ grid reaching a decade past the
    measured range, plus R∞, a series inductance and series constant-phase
    terms 1/(jω)^n for n = 0.5 … 1 (all ≥ 0, so that a blocking or diffusion
    tail is absorbed there rather than in slow pseudo-arcs), fitted to |Z|-weighted data with light ridge smoothing; peaks
    of R_k (each with the resistance of its basin) are the arcs.
    """
    tau = np.logspace(np.log10(0.1 / w.max()), np.log10(10 / w.min()), 5 * int(np.ceil(np.log10(100 * w.max() / w.min()))))
    wt = w[:, None] * tau[None, :]
    denom = 1 + wt**2
    tail = np.exp(-np.outer(np.log(w) + 0.5j * np.pi, _TAIL_EXPONENTS))  # (jω)^-n
    a_re = np.hstack([1 / denom, np.ones((w.size, 1)), np.zeros((w.size, 1)), tail.real])
    a_im = np.hstack([-wt / denom, np.zeros((w.size, 1)), w[:, None] * 1e-6, tail.imag])
    scale = 1.0 / z_abs
    a = np.vstack([a_re * scale[:, None], a_im * scale[:, None]])
    b = np.concatenate([z.real * scale, z.imag * scale])
    # Scale columns so that nnls is well conditioned, then add smoothing rows.
    col = np.linalg.norm(a, axis=0)
    col[col == 0] = 1
    a = a / col
    k = tau.size
    lam = 0.05
    smooth = np.zeros((k - 2, a.shape[1]))
    for i in range(k - 2):
        smooth[i, i : i + 3] = lam * np.array([1.0, -2.0, 1.0])
    x, _ = nnls(np.vstack([a, smooth]), np.concatenate([b, np.zeros(k - 2)]), maxiter=20 * a.shape[1])
    r_k = x[:k] / col[:k]
    r_inf_fit = float(x[k] / col[k])
    total = r_k.sum()
    if total <= 0:
        return [], r_inf_fit
    padded = np.concatenate([[0.0], r_k, [0.0]])
    peaks, _ = find_peaks(padded)
    peaks = peaks - 1
    if peaks.size == 0:
        return [], r_inf_fit
    # Basins: split at the minimum between neighbouring peaks.
    edges = [0]
    for p, q in zip(peaks[:-1], peaks[1:]):
        edges.append(p + int(np.argmin(r_k[p : q + 1])))
    edges.append(k)
    candidates = []
    for (lo, hi), peak in zip(zip(edges[:-1], edges[1:]), peaks):
        r = r_k[lo:hi].sum()
        if r <= 0 or peak == k - 1:
            # A basin still rising at the slow end of the grid is the tail.
            continue
        tau_c = float(np.exp(np.sum(r_k[lo:hi] * np.log(tau[lo:hi])) / r))
        # Slower than the lowest measured frequency is the tail, not an arc.
        if tau_c < 1.0 / w.min():
            candidates.append((float(r), tau_c))
    if not candidates:
        return [], r_inf_fit
    # Significance against the largest arc, not the total: a blocking tail
    # spreads huge R_k over slow τ.
    clear = [r for r, t in candidates if t < 0.1 / w.min()] or [r for r, _ in candidates]
    biggest = max(clear)
    arcs = [(r, t) for r, t in candidates if r >= 0.02 * biggest]
    return arcs, r_inf_fit


# --------------------------------------------------------------------------
# Structural first guess
# --------------------------------------------------------------------------

_CAPACITIVE_TAIL = ("C", "CPE", "W", "Wo")
_ARC_LIKE = ("Ws", "G")
_INDUCTIVE = ("L", "La")


def _flatten_series(node):
    if isinstance(node, Series):
        out = []
        for c in node.children:
            out.extend(_flatten_series(c))
        return out
    return [node]


def _fill_element(el: Element, p, r, tau, feat: _Features, tail: bool):
    i = el.first_index
    s = el.type.symbol
    if s == "R":
        p[i] = r
    elif s == "C":
        p[i] = feat.tail_c if tail else tau / r
    elif s == "CPE":
        n = feat.tail_n if tail else 0.85
        p[i + 1] = n
        p[i] = feat.tail_q if tail else tau**n / r
    elif s == "L":
        p[i] = max(feat.inductance, 1e-3 / feat.omega_max * feat.r_inf)
    elif s == "La":
        p[i] = max(feat.inductance, 1e-3 / feat.omega_max * feat.r_inf)
        p[i + 1] = 0.95
    elif s == "W":
        p[i] = feat.tail_sigma if tail else r / np.sqrt(2 * tau)
    elif s in ("Wo", "Ws", "G"):
        if tail:
            p[i] = feat.low_f_extra_r
            p[i + 1] = 1.0 / feat.omega_min
        else:
            p[i] = r
            p[i + 1] = tau


_DIFFUSION = ("Wo", "Ws", "G")


def _fill(node, p, r, tau, feat, skip=frozenset()):
    """Guess every parameter under ``node`` for an arc of resistance r and
    time constant tau (resistive branches take r, capacitive ones τ/r).
    Elements in ``skip`` were guessed already."""
    if isinstance(node, Element):
        if node.name not in skip:
            _fill_element(node, p, r, tau, feat, False)
    elif isinstance(node, Parallel):
        for child in node.children:
            _fill(child, p, r, tau, feat, skip)
    else:
        # A series branch inside an arc: resistors share r; a W describes the
        # low-frequency tail; a capacitor in series blocks at lower frequency.
        items = _flatten_series(node)
        n_r = sum(1 for it in items if isinstance(it, Element) and it.type.symbol == "R") or 1
        for it in items:
            if isinstance(it, Element) and it.name in skip:
                continue
            if isinstance(it, Element) and it.type.symbol == "W":
                _fill_element(it, p, r, tau, feat, tail=True)
            elif isinstance(it, Element) and it.type.symbol in ("C", "CPE"):
                _fill_element(it, p, r, 10 * tau, feat, tail=False)
            else:
                _fill(it, p, r / n_r, tau, feat, skip)


def _inner_diffusion(node, out):
    if isinstance(node, Element):
        if node.type.symbol in _DIFFUSION:
            out.append(node)
    else:
        for child in node.children:
            _inner_diffusion(child, out)
    return out


def _structural_guess(circuit: Circuit, feat: _Features, variant: int = 0, scan=None):
    """One guess vector: top-level resistors take R∞; parallel blocks take
    the detected arcs (by default in order of increasing τ, i.e. written high
    to low frequency; ``variant`` permutes that order and the way missing
    arcs are invented); diffusion elements inside blocks take the slowest
    arcs; capacitive series elements take the low-frequency tail and
    inductors the inductive part. ``scan`` = (block index, τ) replaces that
    block's arc by one at τ (for arcs hidden under others or a tail)."""
    p = np.array([0.5 * (lo + hi) if not log else np.sqrt(max(lo, 1e-300) * hi)
                  for (lo, hi), log in zip(circuit.bounds, circuit.log_scale)])
    items = _flatten_series(circuit.root)
    series_r = [it for it in items if isinstance(it, Element) and it.type.symbol == "R"]
    blocks = [it for it in items if isinstance(it, Parallel)
              or (isinstance(it, Element) and it.type.symbol in _ARC_LIKE)]
    diffusion = []
    for b in blocks:
        if isinstance(b, Parallel):
            _inner_diffusion(b, diffusion)
    n_perm = 2 if len(blocks) > 1 else 1
    arcs, r_series = _pick_arcs(feat, len(blocks) + len(diffusion), variant // n_perm)
    block_arcs, diff_arcs = arcs[: len(blocks)], arcs[len(blocks):]
    if variant % n_perm == 1:
        block_arcs = block_arcs[::-1]
    for el, (r, tau) in zip(diffusion, diff_arcs):
        _fill_element(el, p, r, 3 * tau if el.type.symbol == "Wo" else tau, feat, tail=False)
    skip = frozenset(el.name for el in diffusion)
    for el in series_r:
        p[el.first_index] = r_series / len(series_r)
    if scan is not None and scan[0] < len(block_arcs):
        block_arcs = list(block_arcs)
        block_arcs[scan[0]] = (feat.arc_resistance_at(scan[1]), scan[1])
    for slot, (r, tau) in zip(blocks, block_arcs):
        _fill(slot, p, r, tau, feat, skip)
    for it in items:
        if isinstance(it, Element):
            if it.type.symbol in _CAPACITIVE_TAIL:
                _fill_element(it, p, feat.z_scale, 1 / feat.omega_min, feat, tail=True)
            elif it.type.symbol in _INDUCTIVE:
                _fill_element(it, p, feat.r_inf, 0.0, feat, tail=False)
    return p


def _pick_arcs(feat: _Features, n_slots: int, variant: int):
    """Choose n_slots arcs (R, τ) sorted by τ and the resistance left for
    series resistors.

    ``variant % 3`` chooses how missing arcs are invented (an arc above the
    highest frequency taking most of R∞, as a bulk arc that is only partly
    visible; splitting the largest arc; an arc below the lowest frequency).
    ``variant // 3 % 2`` chooses which arcs to keep when more are seen than
    the circuit has blocks: the largest, or the fastest ones (preferred when
    a low-frequency tail is present, since a tail that is not purely
    capacitive leaks into slow pseudo-arcs). ``variant // 6 % 2`` reads the
    arcs found without first removing the tail."""
    source = feat.alt_arcs if (variant // 6) % 2 and feat.alt_arcs else feat.arcs
    arcs = sorted(source, key=lambda a: a[1])
    r_series = feat.r_inf
    if n_slots == 0:
        return [], r_series
    if not arcs:
        arcs = [(feat.z_scale, 1.0 / np.sqrt(feat.omega_min * feat.omega_max))]
    if len(arcs) > n_slots:
        fastest_first = feat.has_tail != bool((variant // 3) % 2)
        if fastest_first:
            arcs = arcs[:n_slots]
        else:
            arcs = sorted(sorted(arcs, key=lambda a: -a[0])[:n_slots], key=lambda a: a[1])
    mode = variant % 3
    while len(arcs) < n_slots:
        if mode == 1:
            # split the largest arc in two, a factor 10 apart in τ
            j = int(np.argmax([a[0] for a in arcs]))
            r, tau = arcs[j]
            arcs[j : j + 1] = [(r / 2, tau / 3.16), (r / 2, tau * 3.16)]
        elif mode == 0:
            # an arc above the highest measured frequency (a bulk arc seen
            # only in part): it takes most of what looked like R∞
            arcs.insert(0, (0.9 * r_series, 0.3 / feat.omega_max))
            r_series *= 0.1
        else:
            # an arc below the lowest measured frequency
            arcs.append((arcs[-1][0], 3.0 / feat.omega_min))
    return arcs, r_series


# --------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------


def _resolve_bounds(circuit: Circuit, bounds):
    lower = np.array([b[0] for b in circuit.bounds], float)
    upper = np.array([b[1] for b in circuit.bounds], float)
    if bounds is None:
        return lower, upper
    if isinstance(bounds, Mapping):
        for name, (lo, hi) in bounds.items():
            if name not in circuit.parameter_names:
                raise FitError(f"bounds given for unknown parameter {name!r}; known: {circuit.parameter_names}")
            k = circuit.parameter_names.index(name)
            lower[k], upper[k] = lo, hi
    else:
        pairs = list(bounds)
        if len(pairs) == 2 and np.size(pairs[0]) == circuit.n_parameters:
            lower, upper = np.asarray(pairs[0], float), np.asarray(pairs[1], float)
        elif len(pairs) == circuit.n_parameters:
            lower = np.array([b[0] for b in pairs], float)
            upper = np.array([b[1] for b in pairs], float)
        else:
            raise FitError("bounds must be a dict name -> (low, high), a list of pairs, or (lows, highs)")
    if np.any(lower >= upper):
        raise FitError("every lower bound must be below its upper bound")
    log = np.array(circuit.log_scale)
    if np.any(log & (lower < 0)):
        raise FitError("log-scaled parameters need non-negative bounds")
    return lower, upper


def fit_circuit(
    frequencies,
    impedances,
    circuit: str | Circuit,
    initial_guess: Sequence[float] | Mapping[str, float] | None = None,
    *,
    weighting: str = "modulus",
    bounds=None,
    fixed: Mapping[str, float] | None = None,
    frequency_window_hz: tuple[float, float] | None = None,
    n_starts: int | None = None,
    seed: int = 0,
    seed_parameters=None,
    time_budget_s: float | None = None,
    bound_policy: str = "report",
) -> FitResult:
    """Fit ``circuit`` to a spectrum by complex non-linear least squares.

    frequencies: Hz; impedances: complex Ohm, same length. ``initial_guess``
    (sequence in ``parameter_names`` order, or a partial dict) is optional:
    without it the spectrum itself gives the starting point. ``bounds``:
    dict name → (low, high) overriding the circuit defaults; ``fixed``: dict
    name → value held constant; ``frequency_window_hz``: (fmin, fmax), only
    points inside are fitted; ``n_starts``: budget of starts (default
    ``DEFAULT_MAX_STARTS``; the search stops earlier on evidence, see the
    module docstring); ``seed``: seeds the perturbed starts, so results are
    reproducible; ``seed_parameters``: a parameter dict (or a list of them),
    e.g. the fit of the neighbouring temperature, tried right after
    ``initial_guess``; ``time_budget_s``: stop starting new starts after
    this wall time; ``bound_policy``: "report" or "relax" (what to do with a
    parameter stopped at a caller-given bound that is not a physical limit).
    """
    c = parse_circuit(circuit)
    f_all, z_all = _validated(frequencies, impedances)
    if weighting not in WEIGHTINGS:
        raise FitError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if bound_policy not in BOUND_POLICIES:
        raise FitError(f"bound_policy must be one of {BOUND_POLICIES}, got {bound_policy!r}")
    t_start = time.perf_counter()
    mask = np.ones(f_all.size, dtype=bool)
    if frequency_window_hz is not None:
        fmin, fmax = frequency_window_hz
        mask = (f_all >= fmin) & (f_all <= fmax)
    f, z = f_all[mask], z_all[mask]

    lower, upper = _resolve_bounds(c, bounds)
    fixed = dict(fixed or {})
    unknown = [k for k in fixed if k not in c.parameter_names]
    if unknown:
        raise FitError(f"fixed parameters {unknown} not in circuit; known: {c.parameter_names}")
    is_free = np.array([n not in fixed for n in c.parameter_names])
    n_free = int(is_free.sum())
    if 2 * f.size <= n_free or f.size < 2:
        raise FitError(
            f"{f.size} points ({2 * f.size} real values) cannot determine {n_free} free parameters"
        )

    w_re, w_im = _weights(z, weighting)
    target = np.concatenate([z.real * w_re, z.imag * w_im])
    full = np.zeros(c.n_parameters)
    for name, value in fixed.items():
        full[c.parameter_names.index(name)] = value

    def fun_jac_for(tr):
        """(expand, fun_jac) for one box of bounds (transform ``tr``)."""

        def expand(u):
            pf = tr.to_external(u)
            p = full.copy()
            p[is_free] = pf
            return p, pf

        def fun_jac(u):
            p, pf = expand(u)
            with np.errstate(all="ignore"):
                zm, jac = c.impedance_and_jacobian(p, f)
            r = np.concatenate([zm.real * w_re, zm.imag * w_im]) - target
            jac = jac[:, is_free] * tr.derivative(u, pf)
            jr = np.vstack([jac.real * w_re[:, None], jac.imag * w_im[:, None]])
            if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jr))):
                return np.full(r.size, np.inf), np.zeros_like(jr)
            return r, jr

        return expand, fun_jac

    tr = _Transform(lower[is_free], upper[is_free], np.array(c.log_scale)[is_free])
    expand, fun_jac = fun_jac_for(tr)

    max_step = np.where(tr.log, 2.0, 0.15)

    # Starting points
    feat = _spectrum_features(f, z)
    rng = np.random.default_rng(seed)
    max_starts = DEFAULT_MAX_STARTS if n_starts is None else max(1, int(n_starts))
    if n_starts is None and seed_parameters is not None:
        max_starts += len(np.atleast_1d(seed_parameters)) if not isinstance(seed_parameters, Mapping) else 1

    def clip_inside(p):
        return np.clip(p, lower[is_free], upper[is_free])

    auto = [_structural_guess(c, feat, 0)]

    def as_vector(guess, what):
        if isinstance(guess, Mapping):
            v = auto[0].copy()
            for k, val in guess.items():
                if k not in c.parameter_names:
                    raise FitError(f"{what} names unknown parameter {k!r}")
                v[c.parameter_names.index(k)] = val
            return v
        g = np.asarray(guess, float).ravel()
        if g.size != c.n_parameters:
            raise FitError(f"{what} needs {c.n_parameters} values {c.parameter_names}, got {g.size}")
        return g

    given = []
    if initial_guess is not None:
        given.append(as_vector(initial_guess, "initial_guess"))
    if seed_parameters is not None:
        seeds = [seed_parameters] if isinstance(seed_parameters, Mapping) or (
            np.ndim(seed_parameters) == 1 and not isinstance(seed_parameters[0], Mapping)) else list(seed_parameters)
        given.extend(as_vector(g, "seed_parameters") for g in seeds)
    given = [g for g in given if np.all(np.isfinite(g))]

    # Alternative arc assignments (block order, invented arcs), built only
    # when needed, duplicates dropped.
    variants = [auto[0]]
    n_blocks = sum(1 for it in _flatten_series(c.root) if isinstance(it, Parallel))
    scan_taus = np.logspace(np.log10(1 / feat.omega_max), np.log10(1 / feat.omega_min),
                            int(np.ceil(np.log10(feat.omega_max / feat.omega_min))) + 1)
    pending = iter([(v, None) for v in range(1, 12)]
                   + [(0, (b, t)) for t in scan_taus for b in range(n_blocks)]
                   + [(v, None) for v in range(12, 24)])

    def variant(j):
        while len(variants) <= j:
            v = next(pending, None)
            if v is None:
                return None
            g = _structural_guess(c, feat, v[0], v[1])
            if not any(np.allclose(g, h) for h in variants):
                variants.append(g)
        return variants[j]

    def start_vector(k):
        if k < len(given):
            return given[k].copy()
        j = k - len(given)
        g = variant(j)
        if g is not None:
            return g
        base = auto[0]
        logs = np.array(c.log_scale)
        p = np.where(logs, base * np.exp(rng.normal(0.0, 1.0, base.size)),
                     np.clip(base + rng.normal(0.0, 0.1, base.size), 0.3, 1.0))
        return p

    # Accept a start at once when it is as good as a flexible linear model.
    good_enough = (
        1.15 * (2 * f.size - n_free) * _linear_floor_cost(f, z, w_re, w_im)
        if 2 * f.size > 3 * n_free else 0.0
    )
    def run_from(u0):
        u, cost, ok, n_iter, mesg = _levenberg_marquardt(fun_jac, u0, tr.a, tr.b, max_step)
        stuck = tr.log & (u <= tr.a + 1e-9) & (u0 > tr.a + 1e-9)
        if np.any(stuck):
            # In log space an element driven to its lower bound (R → 0) has
            # no gradient to come back; retry once from well above it.
            u1 = u.copy()
            u1[stuck] = u0[stuck] - np.log(100.0)
            u1 = np.maximum(u1, tr.a + 1.0)
            retry = _levenberg_marquardt(fun_jac, u1, tr.a, tr.b, max_step)
            if retry[1] < cost:
                u, cost, ok, n_iter, mesg = retry
        return u, cost, ok, mesg

    guess_scale = np.log(np.maximum(auto[0][is_free], 1e-300))

    def switched_off(u):
        return np.nonzero(tr.log & ((u <= tr.a + 1e-9) | (u < guess_scale - np.log(1e4))))[0]

    best = None
    best_cost = np.inf
    tried = 0
    agreements = 0
    for k in range(max_starts):
        p0 = start_vector(k)
        for name, value in fixed.items():
            p0[c.parameter_names.index(name)] = value
        u0 = tr.to_internal(clip_inside(p0[is_free]))
        u, cost, ok, mesg = run_from(u0)
        tried += 1
        if cost < best_cost * (1 - AGREEMENT_RTOL):
            agreements = 1
            best_cost, best = cost, (u.copy(), ok, mesg)
        elif cost <= best_cost * (1 + AGREEMENT_RTOL):
            agreements += 1
            if cost < best_cost:
                best_cost, best = cost, (u.copy(), ok, mesg)
        # Several starts landing on the same minimum: accept it.
        # A parameter pinned to a bound often marks a wrong basin (an element
        # switched off): then keep searching even if the cost looks good.
        on_bound = np.any(((best[0] <= tr.a + 1e-9) | (best[0] >= tr.b - 1e-9)) & tr.log) or switched_off(best[0]).size
        if best_cost <= good_enough and not on_bound:
            break
        # Agreement on a poor fit (far above what the data's noise allows)
        # is no evidence of the optimum: a wrong basin attracts several
        # starts too. Then only the budget ends the search.
        poor = good_enough > 0 and best_cost > POOR_FIT_FACTOR * good_enough
        if agreements >= AGREEING_STARTS and not (poor or on_bound):
            break
        if time_budget_s is not None and time.perf_counter() - t_start > time_budget_s:
            break

    # An element switched off (a log parameter on its lower bound or four
    # decades below the data's scale for it, e.g. a series R → 0 while an
    # arc's tail takes its place) is often a side
    # basin: restart from the best point with that parameter switched back
    # on at the data's scale for it (the structural guess) times 1, 0.1, 0.01.
    for k in switched_off(best[0]):
        for scale in (1.0, 0.1, 0.01):
            u0 = best[0].copy()
            free_guess = auto[0][is_free]
            u0[k] = np.clip(np.log(max(free_guess[k] * scale, 1e-300)), tr.a[k], tr.b[k])
            u, cost, ok, mesg = run_from(u0)
            tried += 1
            if cost < best_cost:
                best_cost, best = cost, (u.copy(), ok, mesg)

    u, ok, mesg = best
    p, _ = expand(u)
    findings = ()
    if bounds is not None:
        p, ok, mesg, findings = _release_bounds(
            c, p, best_cost, is_free, lower, upper, fun_jac_for, bound_policy, ok, mesg)
    return _result(c, f_all, z_all, mask, f, z, p, is_free, w_re, w_im, weighting, tried, ok, mesg, findings)


def _release_bounds(c, p, cost, is_free, lower, upper, fun_jac_for, policy, ok, mesg):
    """Refit with caller-given bounds that hold a parameter relaxed to the
    physical limits (the element types' default bounds). Returns
    (parameters, converged, message, findings)."""
    physical_lo = np.array([b[0] for b in c.bounds], float)
    physical_hi = np.array([b[1] for b in c.bounds], float)
    log = np.array(c.log_scale)
    # "On the bound": within 1e-6 relative (log parameters) or 1e-6 absolute (exponents).
    tol_lo = np.where(log, 1e-6 * np.abs(lower), 1e-6)
    tol_hi = np.where(log, 1e-6 * np.abs(upper), 1e-6)
    at_lo = is_free & (p <= lower + tol_lo) & (lower > physical_lo)
    at_hi = is_free & (p >= upper - tol_hi) & (upper < physical_hi)
    if not np.any(at_lo | at_hi):
        return p, ok, mesg, ()
    lo2 = np.where(at_lo, physical_lo, lower)
    hi2 = np.where(at_hi, physical_hi, upper)
    tr2 = _Transform(lo2[is_free], hi2[is_free], log[is_free])
    expand2, fun_jac2 = fun_jac_for(tr2)
    u2, cost2, ok2, _, mesg2 = _levenberg_marquardt(
        fun_jac2, tr2.to_internal(p[is_free]), tr2.a, tr2.b, np.where(tr2.log, 2.0, 0.15))
    p2, _ = expand2(u2)
    use_relaxed = policy == "relax" and cost2 < cost
    findings = []
    for k in np.nonzero(at_lo | at_hi)[0]:
        side = "lower" if at_lo[k] else "upper"
        findings.append(BoundFinding(
            parameter=c.parameter_names[k], side=side,
            bound=float(lower[k] if at_lo[k] else upper[k]),
            physical_limit=float(physical_lo[k] if at_lo[k] else physical_hi[k]),
            cost_at_bound=float(cost), cost_relaxed=float(min(cost2, cost)),
            value_relaxed=float(p2[k] if cost2 < cost else p[k]), relaxed=bool(use_relaxed),
        ))
    if use_relaxed:
        return p2, ok2, f"{mesg}; refitted with {len(findings)} bound(s) relaxed: {mesg2}", tuple(findings)
    return p, ok, mesg, tuple(findings)


def _result(c, f_all, z_all, mask, f, z, p, is_free, w_re, w_im, weighting, tried, converged, mesg, findings=()):
    zm, jac = c.impedance_and_jacobian(p, f)
    r = np.concatenate([(zm.real - z.real) * w_re, (zm.imag - z.imag) * w_im])
    chi2 = float(r @ r)
    n_free = int(is_free.sum())
    dof = max(2 * f.size - n_free, 1)
    jw = np.vstack([jac.real * w_re[:, None], jac.imag * w_im[:, None]])[:, is_free]
    # Column scaling first: linear-space columns span ~20 decades (Q vs R).
    norm = np.linalg.norm(jw, axis=0)
    norm[norm == 0] = 1.0
    js = jw / norm
    cov_free = chi2 / dof * np.linalg.pinv(js.T @ js) / np.outer(norm, norm)
    cov = np.zeros((c.n_parameters, c.n_parameters))
    cov[np.ix_(is_free, is_free)] = cov_free
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = np.nan
    names = list(c.parameter_names)
    resid = (z - zm) / np.abs(z)
    return FitResult(
        circuit=c.text,
        parameter_names=names,
        parameters={n: float(v) for n, v in zip(names, p)},
        stderr={n: float(v) for n, v in zip(names, sd)},
        covariance=cov,
        correlations=corr,
        chi_square=chi2,
        reduced_chi_square=chi2 / dof,
        residuals_real=resid.real,
        residuals_imag=resid.imag,
        predicted=c.impedance(p, f_all),
        converged=bool(converged),
        cost=0.5 * chi2,
        weighting=weighting,
        n_starts=tried,
        message=f"{tried} start(s); best: {mesg}",
        frequencies_hz=f,
        bound_findings=tuple(findings),
    )
