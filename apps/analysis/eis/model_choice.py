"""Choice between candidate circuits by an information criterion, per
spectrum and across a temperature (or pressure) series.

Per spectrum (:func:`compare_models`): every candidate is fitted to the
same points with the same weighting; with n = 2N real residual values
(real and imaginary parts), k free parameters and χ² the weighted sum of
squared residuals, Gaussian errors give

* noise level σ known (the Kramers–Kronig noise estimate σ̂, relative to
  |Z|, which is the scale of modulus-weighted residuals)::

      −2 ln L = χ²/σ² (+ const),  AIC = χ²/σ² + 2k,  BIC = χ²/σ² + k ln n

* σ unknown (maximum-likelihood variance χ²/n)::

      −2 ln L = n ln(χ²/n) (+ const),  AIC = n ln(χ²/n) + 2k,  BIC = n ln(χ²/n) + k ln n

The candidate with the lowest value wins; ``delta`` is each candidate's
value minus the lowest. Evidence classes for Δ (Kass & Raftery, J. Am.
Stat. Assoc. 90 (1995) 773, on the BIC scale): < 2 weak, 2–6 positive,
6–10 strong, > 10 very strong.

Across a series (:func:`choose_series_model`): the spectra are independent,
so the criteria add up; the family with the lowest sum over the series is
used at every point, and a point switches to another family only when that
family's criterion is lower than the series family's at that point by more
than ``STRONG_EVIDENCE`` = 10 (very strong evidence) *and* it fits the
data better there (lower −2 ln L): a simpler candidate that wins only by
its smaller parameter penalty does not break the series — when an arc of
the family has left the window, the family still describes the spectrum
(its extra parameters are merely undetermined), and the window exit is
reported instead. Physical continuity
is checked on the chosen fits: a bulk (or grain-boundary) capacitance
hardly depends on temperature, so an arc whose effective capacitance
changes by more than ``CAPACITANCE_JUMP_FACTOR`` = 10 between neighbouring
points is flagged as a likely wrong assignment; and the point from which
an arc's apex frequency 1/(2πτ) lies above the highest measured frequency
is reported (the arc has left the window there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .circuits import Element, Parallel, Series, parse_circuit
from .derived import effective_capacitance_rq

__all__ = [
    "CRITERIA", "STRONG_EVIDENCE", "CAPACITANCE_JUMP_FACTOR",
    "CandidateScore", "ModelChoice", "SeriesChoice", "CapacitanceJump", "WindowExit",
    "compare_models", "choose_series_model", "arc_parameters",
]

CRITERIA = ("bic", "aic")
#: Δ of the criterion above which a point may leave the series' family.
STRONG_EVIDENCE = 10.0
#: Ratio of an arc's effective capacitance between neighbours that is flagged.
CAPACITANCE_JUMP_FACTOR = 10.0


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's evidence: ``n_values`` = 2N, ``n_free`` = k, ``chi_square``,
    ``minus_2_log_likelihood``, ``aic``, ``bic`` and ``delta`` (its value of
    the chosen criterion minus the lowest among the candidates)."""

    name: str
    circuit: str
    n_values: int
    n_free: int
    chi_square: float
    minus_2_log_likelihood: float
    aic: float
    bic: float
    delta: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ModelChoice:
    """``chosen`` candidate name, the ``criterion`` ("bic"/"aic"), the
    ``noise_level`` used (None: ML variance), every candidate's scores and the
    ``reason`` in words."""

    chosen: str
    criterion: str
    noise_level: float | None
    candidates: tuple
    reason: str

    def score(self, name: str) -> CandidateScore:
        return next(c for c in self.candidates if c.name == name)

    def as_dict(self) -> dict:
        return {
            "chosen": self.chosen, "criterion": self.criterion, "noise_level": self.noise_level,
            "reason": self.reason, "candidates": [c.as_dict() for c in self.candidates],
        }


def _evidence_words(delta: float) -> str:
    if delta > 10:
        return "very strong"
    if delta > 6:
        return "strong"
    if delta > 2:
        return "positive"
    return "weak"


def _n_free(fit) -> int:
    """Free parameters of a fit (fixed ones have stderr exactly 0 and no covariance)."""
    cov = np.asarray(fit.covariance, float)
    diag = np.diag(cov) if cov.ndim == 2 else np.array([])
    free = int(np.count_nonzero(diag)) if diag.size else len(fit.parameter_names)
    return free or len(fit.parameter_names)


def compare_models(candidates, *, criterion: str = "bic", noise_level: float | None = None) -> ModelChoice:
    """Compare fits of candidate circuits to one spectrum.

    ``candidates``: mapping name → fit result (``FitResult`` of
    :func:`fit_circuit`, all on the same frequencies and weighting), or a
    sequence of (name, fit) pairs. ``noise_level``: σ relative to |Z| (the
    Kramers–Kronig ``noise_level``), only with modulus weighting; None uses
    the maximum-likelihood variance. Formulas in the module docstring.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    items = list(candidates.items()) if isinstance(candidates, Mapping) else list(candidates)
    if not items:
        raise ValueError("no candidate fits to compare")
    first = items[0][1]
    for name, fit in items[1:]:
        if fit.weighting != first.weighting:
            raise ValueError(f"candidate {name!r} uses weighting {fit.weighting!r}, "
                             f"{items[0][0]!r} uses {first.weighting!r}: not comparable")
        if fit.frequencies_hz is not None and first.frequencies_hz is not None and not (
                np.shape(fit.frequencies_hz) == np.shape(first.frequencies_hz)
                and np.allclose(fit.frequencies_hz, first.frequencies_hz)):
            raise ValueError(f"candidate {name!r} was fitted on other frequencies than {items[0][0]!r}")
    if noise_level is not None:
        if not noise_level > 0:
            raise ValueError(f"noise_level must be positive, got {noise_level!r}")
        if first.weighting != "modulus":
            raise ValueError("a noise level relative to |Z| only applies to modulus-weighted fits")
    rows = []
    for name, fit in items:
        n = 2 * int(np.size(fit.residuals_real))
        k = _n_free(fit)
        chi2 = float(fit.chi_square)
        if noise_level is not None:
            m2ll = chi2 / noise_level**2
        else:
            m2ll = n * np.log(max(chi2, 1e-300) / n)
        rows.append((name, fit.circuit, n, k, chi2, float(m2ll), float(m2ll + 2 * k), float(m2ll + k * np.log(n))))
    values = np.array([r[6] if criterion == "aic" else r[7] for r in rows])
    best = int(np.argmin(values))
    scores = tuple(CandidateScore(*r, delta=float(v - values[best])) for r, v in zip(rows, values))
    ranked = sorted(scores, key=lambda c: c.delta)
    if len(ranked) == 1:
        reason = f"only candidate {ranked[0].name!r}"
    else:
        runner = ranked[1]
        reason = (f"{ranked[0].name!r} has the lowest {criterion.upper()}; next {runner.name!r} "
                  f"Δ{criterion.upper()} = {runner.delta:.1f} ({_evidence_words(runner.delta)} evidence)")
    return ModelChoice(chosen=ranked[0].name, criterion=criterion, noise_level=noise_level,
                       candidates=scores, reason=reason)


# --------------------------------------------------------------------------
# Arcs of a fit
# --------------------------------------------------------------------------


def arc_parameters(circuit, parameters: Mapping[str, float]) -> list[dict]:
    """Top-level R‖CPE and R‖C blocks of a fit, ordered by time constant:
    dicts with ``r_ohm``, ``tau_s`` = (RQ)^(1/n) (RC), ``apex_frequency_hz`` =
    1/(2πτ) and ``capacitance_f`` (effective, Hsu–Mansfeld)."""
    c = parse_circuit(circuit)
    items = c.root.children if isinstance(c.root, Series) else [c.root]
    arcs = []
    for it in items:
        if not isinstance(it, Parallel) or len(it.children) != 2:
            continue
        kinds = {ch.type.symbol: ch for ch in it.children if isinstance(ch, Element)}
        if "R" not in kinds or not ({"CPE", "C"} & kinds.keys()):
            continue
        r = float(parameters[kinds["R"].name])
        if "CPE" in kinds:
            q = float(parameters[f"{kinds['CPE'].name}_Q"])
            n = float(parameters[f"{kinds['CPE'].name}_n"])
            cap = effective_capacitance_rq(r, q, n)
        else:
            cap = float(parameters[kinds["C"].name])
        tau = r * cap
        arcs.append({"r_ohm": r, "tau_s": tau, "apex_frequency_hz": 1.0 / (2 * np.pi * tau), "capacitance_f": cap})
    return sorted(arcs, key=lambda a: a["tau_s"])


# --------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacitanceJump:
    """Arc ``arc`` (0 = fastest) of the chosen fits changes its effective
    capacitance by ``factor`` (≥ 1) between points ``index`` and ``index + 1``."""

    arc: int
    index: int
    factor: float


@dataclass(frozen=True)
class WindowExit:
    """Arc ``arc`` (0 = fastest) has its apex above the highest measured
    frequency from point ``index`` on (and inside the window before it)."""

    arc: int
    index: int
    apex_frequency_hz: float
    f_max_hz: float


@dataclass(frozen=True)
class SeriesChoice:
    """``family``: the candidate used across the series; ``per_point``: the
    candidate used at each point (the family unless the evidence against it
    there is very strong); ``deviations``: indices where it is not the family;
    ``total_criterion``: sum per candidate; ``choices``: the per-point
    :class:`ModelChoice`; ``capacitance_jumps`` and ``window_exits`` on the
    per-point chosen fits of the family; ``reason`` in words."""

    family: str
    per_point: tuple
    deviations: tuple
    total_criterion: dict
    choices: tuple
    capacitance_jumps: tuple
    window_exits: tuple
    reason: str

    def as_dict(self) -> dict:
        return {
            "family": self.family, "per_point": list(self.per_point), "deviations": list(self.deviations),
            "total_criterion": dict(self.total_criterion), "reason": self.reason,
            "choices": [c.as_dict() for c in self.choices],
            "capacitance_jumps": [j.__dict__ for j in self.capacitance_jumps],
            "window_exits": [w.__dict__ for w in self.window_exits],
        }


def choose_series_model(
    series: Sequence,
    *,
    criterion: str = "bic",
    noise_levels: Sequence[float | None] | None = None,
    strong_evidence: float = STRONG_EVIDENCE,
    jump_factor: float = CAPACITANCE_JUMP_FACTOR,
) -> SeriesChoice:
    """One model family for a series of spectra of one cell (ordered by
    temperature or pressure).

    ``series``: per point, a mapping candidate name → fit result (the same
    candidate names at every point). ``noise_levels``: per point the KK σ̂
    (or None). The rule, capacitance check and window exits are in the
    module docstring.
    """
    if not series:
        raise ValueError("empty series")
    names = list(series[0].keys())
    for i, point in enumerate(series):
        if list(point.keys()) != names:
            raise ValueError(f"point {i} has candidates {list(point.keys())}, point 0 has {names}")
    noise_levels = list(noise_levels) if noise_levels is not None else [None] * len(series)
    if len(noise_levels) != len(series):
        raise ValueError(f"{len(noise_levels)} noise levels for {len(series)} points")
    choices = tuple(compare_models(point, criterion=criterion, noise_level=s)
                    for point, s in zip(series, noise_levels))

    def value(choice, name):
        sc = choice.score(name)
        return sc.aic if criterion == "aic" else sc.bic

    totals = {name: float(sum(value(ch, name) for ch in choices)) for name in names}
    family = min(totals, key=totals.get)
    per_point, deviations = [], []
    for i, ch in enumerate(choices):
        margin = value(ch, family) - value(ch, ch.chosen)
        fits_better = ch.score(ch.chosen).minus_2_log_likelihood < ch.score(family).minus_2_log_likelihood
        if ch.chosen != family and margin > strong_evidence and fits_better:
            per_point.append(ch.chosen)
            deviations.append(i)
        else:
            per_point.append(family)

    # Continuity of the arcs of the chosen fits (same family: same number of arcs).
    arcs = [arc_parameters(series[i][name].circuit, series[i][name].parameters) for i, name in enumerate(per_point)]
    f_max = [float(np.max(series[i][name].frequencies_hz)) for i, name in enumerate(per_point)]
    jumps, exits = [], []
    for i in range(len(series) - 1):
        if per_point[i] != per_point[i + 1] or len(arcs[i]) != len(arcs[i + 1]):
            continue
        for j, (a, b) in enumerate(zip(arcs[i], arcs[i + 1])):
            factor = max(a["capacitance_f"], b["capacitance_f"]) / max(min(a["capacitance_f"], b["capacitance_f"]), 1e-300)
            if factor > jump_factor:
                jumps.append(CapacitanceJump(arc=j, index=i, factor=float(factor)))
    n_arcs = max((len(a) for a in arcs), default=0)
    for j in range(n_arcs):
        for i in range(1, len(series)):
            if j < len(arcs[i]) and j < len(arcs[i - 1]) and arcs[i - 1][j]["apex_frequency_hz"] <= f_max[i - 1] \
                    and arcs[i][j]["apex_frequency_hz"] > f_max[i]:
                exits.append(WindowExit(arc=j, index=i, apex_frequency_hz=arcs[i][j]["apex_frequency_hz"],
                                        f_max_hz=f_max[i]))
                break

    ranked = sorted(totals.items(), key=lambda kv: kv[1])
    reason = f"{family!r} has the lowest {criterion.upper()} summed over {len(series)} points"
    if len(ranked) > 1:
        reason += f" (next {ranked[1][0]!r}: Δ = {ranked[1][1] - ranked[0][1]:.1f})"
    if deviations:
        reason += f"; points {deviations} use another candidate (Δ > {strong_evidence:g} there)"
    return SeriesChoice(family=family, per_point=tuple(per_point), deviations=tuple(deviations),
                        total_criterion=totals, choices=choices, capacitance_jumps=tuple(jumps),
                        window_exits=tuple(exits), reason=reason)
