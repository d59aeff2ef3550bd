"""The local optimiser under :func:`~apps.analysis.eis.fitting.fit_circuit`.

Holds the parameter transform (log coordinates for parameters spanning
decades, linear ones for exponents, each boxed by its bounds) and a compact
box-constrained Levenberg–Marquardt with a per-coordinate step cap. Both
are used by the multi-start search in :mod:`.fitting` and by the refit with
relaxed bounds in :mod:`.bound_release`. Pure numpy, no Django.
"""

from __future__ import annotations

import numpy as np

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


def _levenberg_marquardt(fun_jac, u0, a, b, max_step, *, max_iter=200, ftol=1e-10, xtol=1e-10, gtol=1e-7,
                         abandon_above=np.inf, abandon_after=25):
    """Box-constrained Levenberg–Marquardt (projected steps, Marquardt's
    diagonal scaling, Nielsen's damping update from the gain ratio: fewer
    rejected trial steps than fixed up/down factors; H. B. Nielsen, IMM-REP
    1999-05). Steps are capped at ``max_step`` per coordinate (a
    trust region: at most a factor e² per iteration for log parameters) so
    that a Gauss–Newton jump cannot throw an element into a flat region of
    the cost (e.g. a capacitor so small its branch is open).

    Converged when the relative cost decrease of a step is below ``ftol``,
    the step below ``xtol``, or every free column of J is orthogonal to the
    residual within ``gtol`` (cosine, as MINPACK's gtol).
    A run still above ``abandon_above`` after ``abandon_after`` iterations
    is abandoned (a multi-start search passes a multiple of its best cost:
    a start creeping through a far worse basin rarely ends below it).
    fun_jac(u) -> (r, J). Returns (u, cost, converged, n_iter, message) with
    cost = ½‖r‖²."""
    u = np.clip(u0, a, b)
    r, jac = fun_jac(u)
    cost = 0.5 * float(r @ r)
    lam = 1e-3
    nu = 2.0
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
            # Cap each coordinate on its own: scaling the whole step by its
            # largest component would let one insensitive coordinate (ln R of
            # an element switched off, whose gradient vanishes) freeze all
            # the others, and the fit would stop far from its minimum.
            step = np.clip(step, -max_step, max_step)
            u_new = np.clip(u + step, a, b)
            r_new, jac_new = fun_jac(u_new)
            cost_new = 0.5 * float(r_new @ r_new)
            if np.isfinite(cost_new) and cost_new < cost:
                break
            lam *= nu
            nu *= 2.0
            if lam > 1e12:
                return u, cost, True, it, "no further decrease possible"
        du = np.abs(u_new - u).max()
        rel_drop = (cost - cost_new) / max(cost, 1e-300)
        # Nielsen's update from the gain ratio (actual over predicted drop).
        predicted = 0.5 * float(step @ (lam * d * step - g))
        rho = min((cost - cost_new) / max(predicted, 1e-300), 1.0)
        u, r, jac, cost = u_new, r_new, jac_new, cost_new
        lam = max(lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 1e-12)
        nu = 2.0
        if rel_drop < ftol or du < xtol:
            return u, cost, True, it, "converged"
        if it >= abandon_after and cost > abandon_above:
            return u, cost, False, it, "abandoned (far above the best start)"
    return u, cost, False, max_iter, "iteration limit reached"
