"""Quantities derived from fitted circuit parameters: effective
capacitances, arc assignment, permittivity, conductivity, area-specific
resistance, Arrhenius and VTF fits, electronic conductivity.

Units: Ohm, F, cm, cm², S/cm, °C at the interface (K inside), eV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import curve_fit

__all__ = [
    "K_B_EV_PER_K", "EPSILON_0_F_PER_CM", "ArrheniusResult", "Conductivity", "VTFResult",
    "area_specific_resistance", "assign_arc", "brug_capacitance", "conductivity",
    "arc_hidden_by_series_impedance", "effective_capacitance_rq", "electronic_conductivity", "fit_arrhenius",
    "fit_vtf", "interpolate_log_conductivity", "relative_permittivity",
]

#: Boltzmann constant, eV/K (CODATA 2018, exact).
K_B_EV_PER_K = 8.617333262e-5
#: Vacuum permittivity, F/cm (CODATA 2018: 8.8541878128e-12 F/m).
EPSILON_0_F_PER_CM = 8.8541878128e-14
_ZERO_C_IN_K = 273.15


def effective_capacitance_rq(r_ohm: float, q: float, n: float) -> float:
    """Capacitance (F) of an R‖CPE element: C = Q^(1/n) · R^((1−n)/n).

    Same time constant as the R‖CPE (τ = (RQ)^(1/n) = RC); Hsu & Mansfeld,
    Corrosion 57 (2001) 747, and Brug et al. (1984) for the parallel case.
    """
    return float(q ** (1.0 / n) * r_ohm ** ((1.0 - n) / n))


def arc_hidden_by_series_impedance(r_ohm: float, series_impedance_abs_ohm: float) -> bool:
    """True when an R‖CPE arc is buried under an element in series with it (an electrode spike).

    An arc of diameter R is only seen where it stands out of the rest of the
    spectrum: if |Z| of the series element at the arc's apex frequency
    (f = 1 / (2π τ), τ = (R Q)^(1/n)) is larger than R, the whole arc is a
    ripple on that element and its R is not determined by the data (any R
    that small fits within the noise).
    """
    return bool(series_impedance_abs_ohm > r_ohm)


def brug_capacitance(q: float, n: float, r_series_ohm: float, r_parallel_ohm: float) -> float:
    """Effective capacitance (F) of a CPE with series and parallel resistance
    (Brug et al., J. Electroanal. Chem. 176 (1984) 275):
    C = Q^(1/n) · (1/R_s + 1/R_p)^((n−1)/n)."""
    return float(q ** (1.0 / n) * (1.0 / r_series_ohm + 1.0 / r_parallel_ohm) ** ((n - 1.0) / n))


def _cell_constant_cm(thickness_cm: float, area_cm2: float) -> float:
    if thickness_cm <= 0 or area_cm2 <= 0:
        raise ValueError("thickness_cm and area_cm2 must be positive")
    return thickness_cm / area_cm2


def relative_permittivity(capacitance_f: float, thickness_cm: float, area_cm2: float) -> float:
    """ε_r = C · L / (ε0 · A) for a parallel-plate sample."""
    return float(capacitance_f * _cell_constant_cm(thickness_cm, area_cm2) / EPSILON_0_F_PER_CM)


#: Upper ends (F/cm, capacitance × L/A) of the ranges used by assign_arc.
ARC_CAPACITANCE_LIMITS_F_PER_CM = (
    ("bulk", 1e-11),
    ("grain_boundary", 1e-9),
    ("surface_layer", 1e-7),
    ("electrode", np.inf),
)


def assign_arc(capacitance_f: float, thickness_cm: float, area_cm2: float) -> str:
    """Physical origin of an arc from its capacitance normalised by the cell
    constant, C' = C · L / A (F/cm), after Irvine, Sinclair & West, Adv.
    Mater. 2 (1990) 132: bulk ~1e-12, grain boundary 1e-11–1e-8, surface
    layer 1e-9–1e-7, electrode (double layer) 1e-7–1e-5 F/cm.

    The published ranges overlap; they are split at the decade boundaries
    where the next phenomenon becomes the more likely one:
    C' < 1e-11 → "bulk"; 1e-11 ≤ C' < 1e-9 → "grain_boundary";
    1e-9 ≤ C' < 1e-7 → "surface_layer"; C' ≥ 1e-7 → "electrode".
    """
    c_norm = capacitance_f * _cell_constant_cm(thickness_cm, area_cm2)
    if not np.isfinite(c_norm) or c_norm <= 0:
        raise ValueError("capacitance_f must be positive and finite")
    for label, upper in ARC_CAPACITANCE_LIMITS_F_PER_CM:
        if c_norm < upper:
            return label
    return "electrode"


@dataclass(frozen=True)
class Conductivity:
    """Conductivity and its first-order standard error, S/cm."""

    value_s_per_cm: float
    stderr_s_per_cm: float


def conductivity(
    resistance_ohm: float,
    thickness_cm: float,
    area_cm2: float,
    *,
    resistance_stderr_ohm: float = 0.0,
    thickness_stderr_cm: float = 0.0,
    area_stderr_cm2: float = 0.0,
) -> Conductivity:
    """σ = L / (R · A) in S/cm, with independent first-order errors:
    (δσ/σ)² = (δR/R)² + (δL/L)² + (δA/A)²."""
    if resistance_ohm <= 0:
        raise ValueError("resistance_ohm must be positive")
    sigma = _cell_constant_cm(thickness_cm, area_cm2) / resistance_ohm
    rel = np.sqrt(
        (resistance_stderr_ohm / resistance_ohm) ** 2
        + (thickness_stderr_cm / thickness_cm) ** 2
        + (area_stderr_cm2 / area_cm2) ** 2
    )
    return Conductivity(float(sigma), float(sigma * rel))


def area_specific_resistance(resistance_ohm: float, area_cm2: float) -> float:
    """ASR = R · A in Ohm·cm²."""
    if area_cm2 <= 0:
        raise ValueError("area_cm2 must be positive")
    return float(resistance_ohm * area_cm2)


def electronic_conductivity(
    thickness_cm: float, area_cm2: float, voltage_v: float, steady_current_a: float
) -> float:
    """Electronic conductivity from DC polarisation with ion-blocking
    electrodes (Hebb–Wagner): σ_e = L / (A · ΔV / I_ss), S/cm."""
    if steady_current_a <= 0 or voltage_v <= 0:
        raise ValueError("voltage_v and steady_current_a must be positive")
    return float(_cell_constant_cm(thickness_cm, area_cm2) * steady_current_a / voltage_v)


@dataclass(frozen=True)
class ArrheniusResult:
    """Arrhenius fit. ``form`` 'sigma_t': σT = A·exp(−Ea/kT), prefactor A in
    S·K/cm; 'sigma': σ = σ0·exp(−Ea/kT), prefactor σ0 in S/cm.
    ``prefactor_ln_stderr`` is the standard error of ln(prefactor), ``prefactor_stderr``
    its first-order linear equivalent.
    σ(25 °C) with its 95 % confidence interval (t-distribution on the
    regression covariance); ``extrapolated_25c`` when 25 °C lies outside the
    measured temperatures."""

    form: str
    activation_energy_ev: float
    activation_energy_stderr_ev: float
    prefactor: float
    prefactor_stderr: float
    prefactor_ln_stderr: float
    sigma_25c_s_per_cm: float
    sigma_25c_ci95_s_per_cm: tuple[float, float]
    temperature_min_c: float
    temperature_max_c: float
    n_points: int
    r_squared: float
    extrapolated_25c: bool


def fit_arrhenius(
    temperatures_c,
    conductivities_s_per_cm,
    stderr=None,
    *,
    form: str = "sigma_t",
) -> ArrheniusResult:
    """Weighted linear regression of ln(σT) (or ln σ) on 1/T:

        ln(σT) = ln A − (Ea / k_B) · (1/T)

    Weights 1/var(ln y) with var(ln y) = (δσ/σ)² when ``stderr`` (S/cm) is
    given, else equal weights. Covariance of (ln A, slope): (XᵀWX)⁻¹ scaled by
    the reduced χ² s² = Σwᵣ²/(n − 2) — with measurement errors by max(s², 1)
    (Birge), so the errors are never smaller than the measurement errors
    propagated, however well the points happen to fall on the line; without
    them by s² (a series exactly on a line then has a zero error: nothing
    measured says otherwise). The 95 % interval at 25 °C is symmetric in
    ln σ (never below zero) with Student's t, n − 2 degrees of freedom.
    """
    if form not in ("sigma_t", "sigma"):
        raise ValueError("form must be 'sigma_t' or 'sigma'")
    t_c = np.asarray(temperatures_c, float)
    sig = np.asarray(conductivities_s_per_cm, float)
    if t_c.shape != sig.shape or t_c.ndim != 1:
        raise ValueError("temperatures and conductivities must be 1-D of the same length")
    n = t_c.size
    if n < 3:
        raise ValueError("an Arrhenius fit with an uncertainty needs at least 3 points")
    if np.any(sig <= 0) or not np.all(np.isfinite(sig)):
        raise ValueError("conductivities must be positive and finite")
    t_k = t_c + _ZERO_C_IN_K
    x = 1.0 / t_k
    y = np.log(sig * t_k) if form == "sigma_t" else np.log(sig)
    if stderr is None:
        w = np.ones(n)
    else:
        rel = np.asarray(stderr, float) / sig
        if np.any(rel <= 0):
            raise ValueError("stderr must be positive")
        w = 1.0 / rel**2
    design = np.column_stack([np.ones(n), x])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    resid = y - design @ coef
    dof = n - 2
    s2 = float(np.sum(w * resid**2) / dof)
    scale = max(s2, 1.0) if stderr is not None else s2
    cov = scale * np.linalg.inv(design.T @ (design * w[:, None]))
    slope = coef[1]
    ea = -slope * K_B_EV_PER_K
    ea_se = np.sqrt(cov[1, 1]) * K_B_EV_PER_K
    y_mean = np.sum(w * y) / np.sum(w)
    ss_tot = float(np.sum(w * (y - y_mean) ** 2))
    r2 = 1.0 - float(np.sum(w * resid**2)) / ss_tot if ss_tot > 0 else 1.0

    t25 = 25.0 + _ZERO_C_IN_K
    g = np.array([1.0, 1.0 / t25])
    ln_y25 = float(g @ coef)
    se25 = float(np.sqrt(g @ cov @ g))
    tq = stats.t.ppf(0.975, dof)
    to_sigma = (lambda v: np.exp(v) / t25) if form == "sigma_t" else np.exp
    return ArrheniusResult(
        form=form,
        activation_energy_ev=float(ea),
        activation_energy_stderr_ev=float(ea_se),
        prefactor=float(np.exp(coef[0])),
        prefactor_stderr=float(np.exp(coef[0]) * np.sqrt(cov[0, 0])),
        prefactor_ln_stderr=float(np.sqrt(cov[0, 0])),
        sigma_25c_s_per_cm=float(to_sigma(ln_y25)),
        sigma_25c_ci95_s_per_cm=(float(to_sigma(ln_y25 - tq * se25)), float(to_sigma(ln_y25 + tq * se25))),
        temperature_min_c=float(t_c.min()),
        temperature_max_c=float(t_c.max()),
        n_points=int(n),
        r_squared=float(r2),
        extrapolated_25c=bool(not (t_c.min() <= 25.0 <= t_c.max())),
    )


@dataclass(frozen=True)
class VTFResult:
    """Vogel–Tammann–Fulcher fit σ = A·T^(−1/2)·exp(−B/(T − T0)).
    ``a`` in S·K^(1/2)/cm, ``b_k`` and ``t0_k`` in K; pseudo-activation
    energy k_B·B in eV."""

    a: float
    b_k: float
    t0_k: float
    a_stderr: float
    b_k_stderr: float
    t0_k_stderr: float
    pseudo_activation_energy_ev: float
    pseudo_activation_energy_stderr_ev: float


def stderr_from_log_interval(value: float, ci_low: float | None, ci_high: float | None,
                             n_points: int) -> float | None:
    """δσ from a 95 % interval symmetric in ln σ (an Arrhenius extrapolation with n − 2 dof, as `fit_arrhenius` gives):
    δσ = σ · (ln high − ln low) / (2 t₀.₉₇₅). None without a positive interval."""
    if not (ci_low and ci_high and ci_low > 0 and ci_high > 0):
        return None
    dof = max(n_points - 2, 1)
    return value * (math.log(ci_high) - math.log(ci_low)) / (2 * float(stats.t.ppf(0.975, dof)))


def fit_vtf(temperatures_c, conductivities) -> VTFResult:
    """Fit ln σ = ln A − ½ ln T − B/(T − T0) by non-linear least squares
    (scipy curve_fit; needs ≥ 4 points); T0 is kept below the lowest
    measured temperature."""
    t_k = np.asarray(temperatures_c, float) + _ZERO_C_IN_K
    sig = np.asarray(conductivities, float)
    if t_k.size < 4 or t_k.shape != sig.shape:
        raise ValueError("a VTF fit needs at least 4 (temperature, conductivity) pairs")
    if np.any(sig <= 0):
        raise ValueError("conductivities must be positive")
    y = np.log(sig)

    def model(t, ln_a, b, t0):
        return ln_a - 0.5 * np.log(t) - b / (t - t0)

    t_min = float(t_k.min())
    best = None
    for t0_guess in (t_min - 150.0, t_min - 80.0, t_min - 40.0):
        t0_guess = max(t0_guess, 1.0)
        # With T0 fixed the model is linear in (ln A, B): use that as a start.
        design = np.column_stack([np.ones_like(t_k), -1.0 / (t_k - t0_guess)])
        (ln_a0, b0), *_ = np.linalg.lstsq(design, y + 0.5 * np.log(t_k), rcond=None)
        try:
            popt, pcov = curve_fit(
                model, t_k, y, p0=[ln_a0, max(b0, 1.0), t0_guess],
                bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, t_min - 1.0]), maxfev=5000,
            )
        except RuntimeError:
            continue
        cost = float(np.sum((model(t_k, *popt) - y) ** 2))
        if best is None or cost < best[0]:
            best = (cost, popt, pcov)
    if best is None:
        raise ValueError("VTF fit did not converge")
    _, (ln_a, b, t0), pcov = best
    se = np.sqrt(np.clip(np.diag(pcov), 0, None))
    a = float(np.exp(ln_a))
    return VTFResult(
        a=a, b_k=float(b), t0_k=float(t0), a_stderr=float(a * se[0]), b_k_stderr=float(se[1]),
        t0_k_stderr=float(se[2]), pseudo_activation_energy_ev=float(K_B_EV_PER_K * b),
        pseudo_activation_energy_stderr_ev=float(K_B_EV_PER_K * se[1]),
    )


def interpolate_log_conductivity(temperatures_c, conductivities_s_per_cm, at_c: float = 25.0) -> float | None:
    """σ at ``at_c`` read from the measured points: the geometric mean of the points measured there
    (within 0.5 K), else linear interpolation of ln σ in 1/T between the two bracketing
    temperatures; None when ``at_c`` lies outside the measured range.

    Unlike a straight Arrhenius line through the whole series, this holds across a melting or
    glass transition (a polymer's σ(T) is curved), because it uses only the neighbouring points.
    """
    t_c = np.asarray(temperatures_c, float)
    ln_sig = np.log(np.asarray(conductivities_s_per_cm, float))
    if t_c.size == 0 or not (t_c.min() - 0.5 <= at_c <= t_c.max() + 0.5):
        return None
    at = np.abs(t_c - at_c) <= 0.5
    if np.any(at):
        return float(np.exp(np.mean(ln_sig[at])))
    below, above = t_c < at_c, t_c > at_c
    t_lo = t_c[below].max()
    t_hi = t_c[above].min()
    y_lo = float(np.mean(ln_sig[t_c == t_lo]))
    y_hi = float(np.mean(ln_sig[t_c == t_hi]))
    x_lo, x_hi, x = (1.0 / (v + _ZERO_C_IN_K) for v in (t_lo, t_hi, at_c))
    return float(np.exp(y_lo + (y_hi - y_lo) * (x - x_lo) / (x_hi - x_lo)))
