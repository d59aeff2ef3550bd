"""The multi-start search: when it stops, and the local optimiser under it."""

import numpy as np

from apps.analysis.eis import fit_circuit, parse_circuit
from apps.analysis.eis.fitting import DEFAULT_MAX_STARTS
from apps.analysis.eis.least_squares import _levenberg_marquardt

F = np.logspace(7, -2, 91)
PELLET = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"


def _noisy(circuit, params, seed=3, noise=0.005):
    z = parse_circuit(circuit).impedance(params, F)
    rng = np.random.default_rng(seed)
    return z + noise * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))


def test_search_stops_early_when_an_element_is_off_at_the_optimum():
    # Bulk arc with its apex near 15 MHz: R0 = 5.8 Ω is hidden under it and the
    # optimum has R0 on its lower bound. Switching R0 back on does not lower
    # the cost, so the search stops on evidence instead of spending its budget.
    truth = [5.8, 1.086e4, 1.121e-11, 0.8696, 4.882e3, 5.453e-8, 0.7256, 3.236e-6, 0.9037]
    z = _noisy(PELLET, truth)
    reference = fit_circuit(F, z, PELLET, truth, n_starts=1)
    fit = fit_circuit(F, z, PELLET)
    assert fit.cost <= reference.cost * (1 + 1e-3)
    assert fit.parameters["R0"] < 1e-3
    assert fit.n_starts <= 10 < DEFAULT_MAX_STARTS


def test_one_insensitive_coordinate_does_not_freeze_the_others():
    # r0 = u0 − 3 is solved in one step; r1 = 1e-6 + 1e-12·e^u1 cannot be
    # reduced and its Gauss–Newton step is enormous. Scaling the whole step
    # to the cap would leave u0 where it starts; the per-coordinate cap lets it
    # reach 3.
    def fun_jac(u):
        e = 1e-12 * np.exp(u[1])
        return np.array([u[0] - 3.0, 1e-6 + e]), np.array([[1.0, 0.0], [0.0, e]])

    u, cost, ok, n_iter, _ = _levenberg_marquardt(
        fun_jac, np.array([0.0, 0.0]), np.array([-10.0, -60.0]), np.array([10.0, 10.0]), np.array([2.0, 2.0]))
    assert abs(u[0] - 3.0) < 1e-6
    assert cost < 0.5 * (1e-6 + 1e-12) ** 2 * 1.01


def test_a_start_far_above_the_best_is_abandoned():
    def fun_jac(u):  # a slow valley: cost falls by a few % per step
        return np.array([np.exp(u[0])]), np.array([[np.exp(u[0])]])

    out = _levenberg_marquardt(fun_jac, np.array([5.0]), np.array([-50.0]), np.array([50.0]), np.array([0.01]),
                               abandon_above=1e-6)
    assert not out[2] and out[3] == 25 and out[4].startswith("abandoned")
