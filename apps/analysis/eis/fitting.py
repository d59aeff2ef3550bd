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

Starts that give the same model spectrum (blocks of the same form
swapped) are run once. A start whose cost is still above
``ABANDON_FACTOR`` = 10 times the best after 25 iterations is abandoned.

When the search stops (evidence, not a fixed count): as soon as a start
reaches the cost a flexible KK-compliant linear model of the same data
implies (scaled to the circuit's degrees of freedom, ×1.15); or when
``AGREEING_STARTS`` = 3 independent starts end within ``AGREEMENT_RTOL`` =
0.1 % of the best cost found, unless that cost is above
``POOR_FIT_FACTOR`` = 3 times the noise-level cost (a wrong basin attracts
several starts too); or when the budget is spent: ``DEFAULT_MAX_STARTS`` =
40 starts, or ``time_budget_s`` seconds of wall time if given (off by
default, so that results do not depend on the machine's load). Before a
best point may stop the search, every element switched off in it (a log
parameter on its lower bound or four decades below the structural guess's
value, or an exponent on its lower bound) is switched back on at the
data's scale for it (×1, ×0.1, ×0.01; an exponent at its guess) and
refitted from there: if that finds a lower cost the search goes on
from the new best, if not the element is off at the optimum (e.g. R∞
under a bulk arc above the highest frequency). A best point with a log
parameter on its upper bound never stops the search early.

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

from .bound_release import BoundFinding, _release_bounds
from .circuits import Circuit, Parallel, parse_circuit
from .least_squares import _levenberg_marquardt, _Transform
from .starting_values import _flatten_series, _spectrum_features, _structural_guess

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
#: A start whose cost is still above this multiple of the best after 25 iterations is abandoned.
ABANDON_FACTOR = 10.0


class FitError(ValueError):
    """The input cannot be fitted (bad shapes, NaN, too few points...)."""


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
# The fit
# --------------------------------------------------------------------------


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
    best = None
    best_cost = np.inf

    def run_from(u0, abandon_factor=ABANDON_FACTOR, retry=True):
        # A start still far above the best one after a few dozen iterations
        # is abandoned: such starts otherwise creep to the iteration limit
        # and take most of the search's time.
        u, cost, ok, n_iter, mesg = _levenberg_marquardt(
            fun_jac, u0, tr.a, tr.b, max_step, abandon_above=abandon_factor * best_cost)
        stuck = tr.log & (u <= tr.a + 1e-9) & (u0 > tr.a + 1e-9)
        if retry and np.any(stuck):
            # In log space an element driven to its lower bound (R → 0) has
            # no gradient to come back; retry once from well above it.
            u1 = u.copy()
            u1[stuck] = u0[stuck] - np.log(100.0)
            u1 = np.maximum(u1, tr.a + 1.0)
            retry = _levenberg_marquardt(fun_jac, u1, tr.a, tr.b, max_step,
                                         abandon_above=ABANDON_FACTOR * best_cost)
            if retry[1] < cost:
                u, cost, ok, n_iter, mesg = retry
        return u, cost, ok, mesg

    guess_scale = np.log(np.maximum(auto[0][is_free], 1e-300))

    def switched_off(u):
        # Also an exponent on its lower bound: a CPE with n → 0 is a plain
        # resistor, another way for an arc to vanish into a side basin.
        off_log = tr.log & ((u <= tr.a + 1e-9) | (u < guess_scale - np.log(1e4)))
        return np.nonzero(off_log | (~tr.log & (u <= tr.a + 1e-9)))[0]

    tried = 0
    agreements = 0
    probed = set()  # starts whose switched-off elements were switched back on

    def consider(u, cost, ok, mesg, independent):
        nonlocal best, best_cost, agreements
        if cost < best_cost * (1 - AGREEMENT_RTOL):
            agreements = 1 if independent else 0
            best_cost, best = cost, (u.copy(), ok, mesg)
        elif cost <= best_cost * (1 + AGREEMENT_RTOL):
            agreements += 1 if independent else 0
            if cost < best_cost:
                best_cost, best = cost, (u.copy(), ok, mesg)

    def probe_switched_off():
        """An element switched off (a log parameter on its lower bound or
        four decades below the data's scale for it, e.g. a series R → 0
        while an arc's tail takes its place) is often a side basin: restart
        from the best point with it switched back on at the data's scale for
        it (the structural guess) × 1, 0.1, 0.01. When none of these does
        better, the element really is off at the optimum (e.g. R∞ hidden
        under a bulk arc above the highest frequency) and the best point may
        stop the search."""
        nonlocal tried
        for _ in range(3):  # a probe may find a better point with its own
            key = best[0].tobytes()
            off = switched_off(best[0])
            if key in probed or not off.size:
                return
            probed.add(key)
            cost_before = best_cost
            for k in off:
                for scale in (1.0, 0.1, 0.01) if tr.log[k] else (1.0,):
                    u0 = best[0].copy()
                    value = auto[0][is_free][k]
                    u0[k] = np.clip(np.log(max(value * scale, 1e-300)) if tr.log[k] else value, tr.a[k], tr.b[k])
                    # A probe starts next to the best point: one that is not
                    # near its cost after 25 iterations went elsewhere.
                    u, cost, ok, mesg = run_from(u0, abandon_factor=2.0, retry=False)
                    tried += 1
                    consider(u, cost, ok, mesg, independent=False)
            if best_cost >= cost_before * (1 - AGREEMENT_RTOL):
                probed.add(best[0].tobytes())
                return

    # Starts with the same model spectrum are one start: blocks of the same
    # form swapped (R0-p(R1,C1)-p(R2,C2) read either way) follow mirrored
    # paths to the same cost, and counting them would fake agreement.
    seen_spectra = []
    n_started = 0
    for k in range(max_starts + 4 * DEFAULT_MAX_STARTS):
        if n_started >= max_starts:
            break
        p0 = start_vector(k)
        for name, value in fixed.items():
            p0[c.parameter_names.index(name)] = value
        u0 = tr.to_internal(clip_inside(p0[is_free]))
        with np.errstate(all="ignore"):
            z0 = c.impedance(expand(u0)[0], f)
        if any(np.allclose(z0, s, rtol=1e-9, atol=0.0) for s in seen_spectra):
            continue
        seen_spectra.append(z0)
        n_started += 1
        u, cost, ok, mesg = run_from(u0)
        tried += 1
        consider(u, cost, ok, mesg, independent=True)
        # Only a candidate worth stopping on is probed (probes cost starts).
        poor = good_enough > 0 and best_cost > POOR_FIT_FACTOR * good_enough
        if best_cost <= good_enough or (agreements >= AGREEING_STARTS and not poor):
            probe_switched_off()
            poor = good_enough > 0 and best_cost > POOR_FIT_FACTOR * good_enough
        # An element switched off that switching back on did not improve is
        # part of the optimum; a log parameter on its upper bound still marks
        # a wrong basin (an element pushed out of the measured window).
        unverified = best[0].tobytes() not in probed and switched_off(best[0]).size
        on_bound = unverified or np.any((best[0] >= tr.b - 1e-9) & tr.log)
        if best_cost <= good_enough and not on_bound:
            break
        # Agreement on a poor fit (far above what the data's noise allows)
        # is no evidence of the optimum: a wrong basin attracts several
        # starts too. Then only the budget ends the search.
        if agreements >= AGREEING_STARTS and not (poor or on_bound):
            break
        if time_budget_s is not None and time.perf_counter() - t_start > time_budget_s:
            break
    probe_switched_off()

    u, ok, mesg = best
    p, _ = expand(u)
    findings = ()
    if bounds is not None:
        p, ok, mesg, findings = _release_bounds(
            c, p, best_cost, is_free, lower, upper, fun_jac_for, bound_policy, ok, mesg)
    return _result(c, f_all, z_all, mask, f, z, p, is_free, w_re, w_im, weighting, tried, ok, mesg, findings)


def evaluate_fit(circuit: str | Circuit, parameters: Mapping[str, float], frequencies_hz, impedance_ohm, *,
                 weighting: str = "modulus", frequency_window_hz: tuple[float, float] | None = None,
                 fixed: Sequence[str] = ()) -> FitResult:
    """What :func:`fit_circuit` reports at its optimum (residuals, χ², covariance, correlations), computed at the
    given parameters without fitting: a stored fit keeps its parameters, and the rest follows from them and the
    spectrum. ``fixed``: names of parameters that were held (no covariance)."""
    c = parse_circuit(circuit) if isinstance(circuit, str) else circuit
    f_all, z_all = _validated(frequencies_hz, impedance_ohm)
    mask = np.ones(f_all.size, dtype=bool)
    if frequency_window_hz is not None:
        mask = (f_all >= frequency_window_hz[0]) & (f_all <= frequency_window_hz[1])
    f, z = f_all[mask], z_all[mask]
    if f.size == 0:
        raise FitError("no data points inside the frequency window")
    w_re, w_im = _weights(z, weighting)
    p = np.asarray(c.parameter_vector(parameters), float)
    is_free = np.array([n not in set(fixed) for n in c.parameter_names])
    return _result(c, f_all, z_all, mask, f, z, p, is_free, w_re, w_im, weighting, 0, True, "evaluated, not fitted")


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
