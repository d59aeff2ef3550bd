"""Arrhenius (and VTF) fits of a separator's temperature series from its standard fits' conductivities."""
from __future__ import annotations

import logging
import math

import numpy as np
from django.db import transaction

from apps.catalog.models import Separator
from apps.common import flags as flag_registry

from .. import protocols as protocol_rules
from ..models import ArrheniusFit, ArrheniusForm, Conductivity, FitResult, FitStatus
from .common import _json_safe, engine_version

logger = logging.getLogger(__name__)


def _vtf_row_fields(temperatures_c: np.ndarray, sigma: np.ndarray) -> dict:
    from apps.analysis.eis import derived as eis_derived

    vtf = eis_derived.fit_vtf(temperatures_c, sigma)
    t_k = temperatures_c + 273.15
    model = np.log(vtf.a) - 0.5 * np.log(t_k) - vtf.b_k / (t_k - vtf.t0_k)
    y = np.log(sigma)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - model) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    t25 = 298.15
    sigma_25 = vtf.a * t25**-0.5 * math.exp(-vtf.b_k / (t25 - vtf.t0_k)) if t25 > vtf.t0_k else None
    return {
        "activation_energy_ev": vtf.pseudo_activation_energy_ev,
        "activation_energy_stderr_ev": vtf.pseudo_activation_energy_stderr_ev,
        "prefactor": vtf.a, "vtf_b_k": vtf.b_k, "vtf_t0_k": vtf.t0_k, "sigma_25c_s_per_cm": sigma_25,
        "sigma_25c_ci_low_s_per_cm": None, "sigma_25c_ci_high_s_per_cm": None, "r_squared": r2,
    }


#: Cell configurations whose spectra measure the separator alone (None: not stated).
BLOCKING_CONFIGURATIONS = ("blocking", None, "")
#: Distinct temperatures nearest 25 °C (in 1/T) a polymer's local Arrhenius fit uses.
ARRHENIUS_LOCAL_POINTS = 3


def _points_around(temperatures_c: np.ndarray, n_temperatures: int, at_c: float = 25.0) -> np.ndarray:
    """Indices of the points at the ``n_temperatures`` distinct temperatures nearest ``at_c`` in 1/T."""
    distinct = np.unique(np.round(temperatures_c, 3))
    distance = np.abs(1.0 / (distinct + 273.15) - 1.0 / (at_c + 273.15))
    chosen = distinct[np.argsort(distance, kind="stable")[:n_temperatures]]
    return np.flatnonzero(np.isin(np.round(temperatures_c, 3), chosen))


@transaction.atomic
def fit_arrhenius_series(*, separator_id: int) -> list[ArrheniusFit]:
    """Arrhenius fits of a separator from its cells' succeeded standard fits that have a temperature.

    Per standard protocol and conductivity kind with at least 3 distinct
    temperatures: both the σT and the σ form; for polymer or hybrid
    separators with at least 4 temperatures also VTF. Rows no longer
    supported by the data are removed. A fit carrying a flag that blocks the
    leaderboards (severity in `apps.common.flags`) gives no point: one bad
    spectrum of a series does not carry its defect into the line through the others.
    """
    from apps.analysis.eis import derived as eis_derived

    separator = Separator.objects.prefetch_related("components__material").get(pk=separator_id)
    # One standard fit per spectrum: the most recent (a spectrum re-analysed under a new
    # version, or whose shape now picks another protocol, counts once).
    latest_fit_of: dict[int, tuple[int, list]] = {}
    for spectrum_id, fit_id, fit_flags in (
        FitResult.objects.filter(
            spectrum__cell__separator_id=separator_id, status=FitStatus.SUCCEEDED, protocol__is_standard=True,
            spectrum__temperature_c__isnull=False,
        )
        .order_by("spectrum_id", "updated_at", "pk")
        .values_list("spectrum_id", "pk", "flags")
    ):
        latest_fit_of[spectrum_id] = (fit_id, fit_flags or [])
    usable_fits = [fit_id for fit_id, fit_flags in latest_fit_of.values()
                   if not any(flag_registry.is_blocking(code) for code in fit_flags)]
    rows = (
        Conductivity.objects.filter(fit_id__in=usable_fits)
        .values_list("fit__protocol_id", "kind", "spectrum__temperature_c", "conductivity_s_per_cm",
                     "conductivity_stderr_s_per_cm", "spectrum__cell__configuration")
        .order_by("kind", "spectrum__temperature_c", "pk")
    )
    # A blocking cell is the measurement made for the separator's conductivity. A symmetric cell's
    # or a full cell's high-frequency intercept also holds leads and contact resistance, and such
    # cells are usually measured at one temperature many times, which would outweigh the series:
    # they count only for a kind no blocking cell gives a temperature series of.
    blocking_temperatures: dict[str, set[float]] = {}
    for _, kind, t_c, _, _, configuration in rows:
        if configuration in BLOCKING_CONFIGURATIONS:
            blocking_temperatures.setdefault(kind, set()).add(round(t_c, 3))
    rows = [
        row[:5] for row in rows
        if row[5] in BLOCKING_CONFIGURATIONS or len(blocking_temperatures.get(row[1], ())) < 3
    ]
    # The pellet protocols share the meaning of their kinds, and a heated pellet's bulk arc leaves
    # the window (the rule then switches protocol): a kind's series spans the standard protocols.
    # The row is filed under the protocol that gave most of its points.
    by_kind: dict[str, list[tuple[float, float, float | None]]] = {}
    protocols_of: dict[str, list[int]] = {}
    for protocol_id, kind, t_c, sigma, sigma_se in rows:
        by_kind.setdefault(kind, []).append((t_c, sigma, sigma_se))
        protocols_of.setdefault(kind, []).append(protocol_id)
    series: dict[tuple[int, str], list[tuple[float, float, float | None]]] = {}
    for kind, points in by_kind.items():
        ids = protocols_of[kind]
        main_protocol = max(sorted(set(ids)), key=ids.count)
        series[(main_protocol, kind)] = points

    polymer = protocol_rules.is_polymer_separator(separator)
    kept: list[int] = []
    fits: list[ArrheniusFit] = []
    for (protocol_id, kind), points in series.items():
        t = np.array([p[0] for p in points], float)
        sigma = np.array([p[1] for p in points], float)
        se = [p[2] for p in points]
        n_temperatures = len(set(np.round(t, 3)))
        if n_temperatures < 3:
            continue
        stderr = np.array(se, float) if all(s is not None and s > 0 for s in se) else None
        base = {
            "temperature_min_c": float(t.min()), "temperature_max_c": float(t.max()), "n_points": int(t.size),
            "extrapolated_25c": not (t.min() <= 25.0 <= t.max()), "points": _json_safe([list(p) for p in points]),
            "engine_version": engine_version(),
        }
        forms: dict[str, dict] = {}
        # A polymer's σ(T) is curved (glass transition, melting of crystalline PEO near 60 °C): a
        # straight line through the whole series misses σ(25 °C) by a factor of two or three. Its
        # Arrhenius forms are fitted to the points around 25 °C (an apparent, local Ea), and its
        # σ(25 °C) is read from the measured points (interpolated in ln σ against 1/T).
        local = _points_around(t, ARRHENIUS_LOCAL_POINTS) if polymer else np.arange(t.size)
        sigma_25_measured = eis_derived.interpolate_log_conductivity(t, sigma) if polymer else None
        for form in (ArrheniusForm.SIGMA_T, ArrheniusForm.SIGMA):
            try:
                res = eis_derived.fit_arrhenius(
                    t[local], sigma[local], None if stderr is None else stderr[local], form=str(form)
                )
            except ValueError as exc:
                logger.info("Arrhenius %s of separator %s (%s) skipped: %s", form, separator_id, kind, exc)
                continue
            forms[form] = {
                "activation_energy_ev": res.activation_energy_ev,
                "activation_energy_stderr_ev": res.activation_energy_stderr_ev,
                "prefactor": res.prefactor, "vtf_b_k": None, "vtf_t0_k": None,
                "sigma_25c_s_per_cm": res.sigma_25c_s_per_cm,
                "sigma_25c_ci_low_s_per_cm": res.sigma_25c_ci95_s_per_cm[0],
                "sigma_25c_ci_high_s_per_cm": res.sigma_25c_ci95_s_per_cm[1], "r_squared": res.r_squared,
                "temperature_min_c": float(t[local].min()), "temperature_max_c": float(t[local].max()),
                "n_points": int(local.size),
            }
        if polymer and n_temperatures >= 4:
            try:
                forms[ArrheniusForm.VTF] = _vtf_row_fields(t, sigma)
            except (ValueError, RuntimeError) as exc:
                logger.info("VTF of separator %s (%s) skipped: %s", separator_id, kind, exc)
        if sigma_25_measured is not None:
            for values in forms.values():
                values.update({
                    "sigma_25c_s_per_cm": sigma_25_measured, "sigma_25c_ci_low_s_per_cm": None,
                    "sigma_25c_ci_high_s_per_cm": None,
                })
        for form, values in forms.items():
            clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
            row, _ = ArrheniusFit.objects.update_or_create(
                separator=separator, protocol_id=protocol_id, kind=kind, form=form, defaults={**base, **clean},
            )
            kept.append(row.pk)
            fits.append(row)
    ArrheniusFit.objects.filter(separator=separator, protocol__is_standard=True).exclude(pk__in=kept).delete()
    return fits
