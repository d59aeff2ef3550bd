"""Caller-given bounds that decide a fit, and their release.

Holds :class:`BoundFinding` (a parameter stopped at a bound the caller set
that is not the element's physical limit, with the cost at the bound and
relaxed) and :func:`_release_bounds`, which refits from the optimum with
such bounds relaxed to the physical limits and, under the "relax" policy,
returns the relaxed fit. Used by :func:`~apps.analysis.eis.fitting.fit_circuit`.
Pure numpy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .least_squares import _levenberg_marquardt, _Transform

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
