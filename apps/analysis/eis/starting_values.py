"""Data-seeded starting values for the circuit fitter.

Reads a spectrum (high-frequency intercept, inductive part, arcs from a
coarse non-negative RC-distribution fit, the low-frequency tail) into
:class:`_Features`, and turns those features into a guess for every
parameter of a circuit (:func:`_structural_guess`), with variants that
reorder, invent or relocate arcs. :mod:`.fitting` draws its multi-start
sequence from these guesses. Pure numpy/scipy, no Django.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from .circuits import Circuit, Element, Parallel, Series

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
    omega: np.ndarray = None  # ascending
    z_real: np.ndarray = None  # Z' at omega
    # What reading the arcs again without removing the tail needs; most searches stop before a start uses them.
    alt_arcs_input: tuple = None

    @functools.cached_property
    def alt_arcs(self) -> list | None:
        """Arcs read without removing the tail first (None without a tail), computed when first asked for."""
        return _arcs_from_rc_distribution(*self.alt_arcs_input)[0] if self.alt_arcs_input is not None else None

    def arc_resistance_at(self, tau: float) -> float:
        """A plausible arc resistance for an arc at τ: Z'(ω = 1/τ) − R∞."""
        zr = float(np.interp(np.log(1.0 / tau), np.log(self.omega), self.z_real))
        return max(zr - self.r_inf, 0.05 * self.z_scale)



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
    design = _rc_design(w, np.abs(z))  # both readings below fit the same basis to different data
    arcs, r_inf_fit = _arcs_from_rc_distribution(w, z_arcs, r_inf, np.abs(z), design)
    # The tail estimate can be off; the arcs of the raw data give other starts (read when one is built).
    alt_arcs_input = (w, z, r_inf, np.abs(z), design) if has_tail else None
    if any(tau < 1.0 / w.max() for _, tau in arcs):
        # An arc above the highest frequency hides R∞ below Re Z(f_max).
        r_inf = min(r_inf, max(r_inf_fit, 0.02 * r_inf))
    r_arcs = sum(a[0] for a in arcs)
    low_f_extra_r = float(max(zr[-1] - r_inf - r_arcs, 0.1 * (zr[-1] - r_inf), 1e-6 * np.abs(z).max()))
    return _Features(
        r_inf=r_inf, inductance=inductance, arcs=arcs, tail_n=tail_n, tail_q=tail_q,
        tail_sigma=tail_sigma, tail_c=tail_c, low_f_extra_r=low_f_extra_r,
        omega_min=float(w[-1]), omega_max=float(w[0]), z_scale=float(np.median(np.abs(z))),
        has_tail=has_tail, alt_arcs_input=alt_arcs_input, omega=w[::-1].copy(), z_real=zr[::-1].copy(),
    )


_TAIL_EXPONENTS = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


def _rc_design(w, z_abs):
    """The basis of :func:`_arcs_from_rc_distribution` for angular frequencies ``w``: (rows, column norms, τ
    grid, row weights 1/|Z|). Rows: the |Z|-weighted real and imaginary parts of every column, scaled to unit
    norm, then the ridge-smoothing rows; it depends on the frequencies and |Z| only, not on which data is read."""
    tau = np.logspace(np.log10(0.1 / w.max()), np.log10(10 / w.min()), 5 * int(np.ceil(np.log10(100 * w.max() / w.min()))))
    wt = w[:, None] * tau[None, :]
    denom = 1 + wt**2
    tail = np.exp(-np.outer(np.log(w) + 0.5j * np.pi, _TAIL_EXPONENTS))  # (jω)^-n
    a_re = np.hstack([1 / denom, np.ones((w.size, 1)), np.zeros((w.size, 1)), tail.real])
    a_im = np.hstack([-wt / denom, np.zeros((w.size, 1)), w[:, None] * 1e-6, tail.imag])
    scale = 1.0 / z_abs
    a = np.vstack([a_re * scale[:, None], a_im * scale[:, None]])
    # Scale columns so that nnls is well conditioned, then add smoothing rows.
    col = np.linalg.norm(a, axis=0)
    col[col == 0] = 1
    a = a / col
    k = tau.size
    return np.vstack([a, _smoothing_rows(k, a.shape[1])]), col, tau, scale


@functools.lru_cache(maxsize=32)
def _smoothing_rows(k: int, n_columns: int) -> np.ndarray:
    """Second-difference rows λ·(1, −2, 1) over the k RC columns (λ = 0.05), zero on the others."""
    lam = 0.05
    smooth = np.zeros((k - 2, n_columns))
    rows = np.arange(k - 2)
    for offset, weight in enumerate((1.0, -2.0, 1.0)):
        smooth[rows, rows + offset] = lam * weight
    smooth.flags.writeable = False  # shared between calls
    return smooth


def _arcs_from_rc_distribution(w, z, r_inf, z_abs, design=None):
    """Arcs (R, τ) from a coarse non-negative RC-distribution fit.

    Voigt elements R_k/(1 + jωτ_k) on a log τ grid reaching a decade past the
    measured range, plus R∞, a series inductance and series constant-phase
    terms 1/(jω)^n for n = 0.5 … 1 (all ≥ 0, so that a blocking or diffusion
    tail is absorbed there rather than in slow pseudo-arcs), fitted to |Z|-weighted data with light ridge smoothing; peaks
    of R_k (each with the resistance of its basin) are the arcs. ``design``: :func:`_rc_design` of ``w`` and
    ``z_abs`` when the caller has it already.
    """
    a, col, tau, scale = design if design is not None else _rc_design(w, z_abs)
    k = tau.size
    b = np.concatenate([z.real * scale, z.imag * scale])
    x, _ = nnls(a, np.concatenate([b, np.zeros(k - 2)]), maxiter=20 * a.shape[1])
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
    # Or against |Z| where the arc sits: tail leakage can put huge
    # pseudo-arcs at slow τ, beside which a bulk arc at the top of the
    # range looks small although it shapes the whole high-frequency end.
    log_w = np.log(w[::-1])
    z_at = np.interp(-np.log([t for _, t in candidates]), log_w, z_abs[::-1])
    arcs = [(r, t) for (r, t), za in zip(candidates, z_at) if r >= 0.02 * biggest or r >= 0.1 * za]
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
