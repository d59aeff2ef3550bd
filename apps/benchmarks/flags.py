"""Quality flags of benchmark entries: the vocabulary (`FLAGS`) and the flags of one standard fit.

Blocking flags keep an entry off the leaderboards. `fit_flags` reads what the analysis pipeline
stored on a fit (its flags, roles, residuals, Kramers–Kronig check) and judges it with the pure
rules of `statistics` (residual threshold, parameters at a bound) and `eis.derived` (arc
assignment from the effective capacitance).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from apps.analysis.eis import derived as eis_derived
from apps.analysis.models import FitResult
from apps.measurements.models import ImpedanceSpectrum

from .statistics import POOR_FIT_RMS_RELATIVE_RESIDUAL, at_bound, rms_relative_residual

RESISTOR_NAME = re.compile(r"^R\d*$")
CAPACITOR_NAME = re.compile(r"^C\d*$")
CPE_NAME = re.compile(r"^CPE\d*$")


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    blocking: bool
    why: str


FLAGS: dict[str, Flag] = {
    f.code: f
    for f in (
        Flag("kk_failed", "Kramers–Kronig test failed", True,
             "The spectrum is not linear, causal and stable (drift, noise); no circuit fit of it can be trusted."),
        Flag("poor_fit", "Poor or unconverged fit (rms residual > 2 %)", True,
             "The circuit does not describe the spectrum, so its resistances are not the sample's."),
        Flag("parameter_at_bound", "Fit parameter at a protocol bound", True,
             "A parameter pinned at its bound has no meaningful value or uncertainty."),
        Flag("implausible_for_family", "Conductivity implausible for the family", True,
             "Outside the physically plausible range of its family: usually a unit, thickness or area error."),
        Flag("ccd_without_protocol", "CCD without its protocol", True,
             "A CCD without step size, capacity per half-cycle, temperature and failure rule cannot be compared."),
        Flag("arc_assignment_mismatch", "Arc assignment at odds with its capacitance", False,
             "The element's effective capacitance points to another origin (Irvine, Sinclair & West 1990)."),
        Flag("extrapolated", "Extrapolated to 25 °C", False,
             "25 °C lies outside the measured temperatures; the value rests on the Arrhenius law holding there."),
        Flag("no_pressure_history", "No stack-pressure history", False,
             "Without the pressure history the number cannot be set beside others measured under load."),
    )
}
BLOCKING_FLAGS = frozenset(code for code, f in FLAGS.items() if f.blocking)


def _effective_capacitance(fit: FitResult, r_name: str, c_name: str) -> float | None:
    p = fit.parameters
    if CAPACITOR_NAME.match(c_name) and c_name in p:
        return float(p[c_name])
    if CPE_NAME.match(c_name) and f"{c_name}_Q" in p and f"{c_name}_n" in p:
        return eis_derived.effective_capacitance_rq(float(p[r_name]), float(p[f"{c_name}_Q"]), float(p[f"{c_name}_n"]))
    return None


#: Fit flags written by the analysis pipeline (apps.analysis.services) → benchmark flag codes.
STORED_FIT_FLAGS = {
    "kk_failed": "kk_failed",
    "poor_chi_square": "poor_fit",
    "not_converged": "poor_fit",
    "parameter_at_bound": "parameter_at_bound",
    "assignment_at_odds_with_role": "arc_assignment_mismatch",
}

ACCEPTED_ARC_LABELS = {
    "bulk": {"bulk"},
    "grain_boundary": {"grain_boundary", "surface_layer"},
    "total": {"bulk", "grain_boundary"},
}


def fit_flags(fit: FitResult, spectrum: ImpedanceSpectrum, *, thickness_cm: float | None,
              area_cm2: float | None) -> dict[str, str]:
    """Flags of one standard fit: {code: note}."""
    flags: dict[str, str] = {}
    stored = {str(f).lower() for f in (fit.flags or [])}
    notes = (fit.derived or {}).get("flag_details", {}) if isinstance(fit.derived, dict) else {}
    # Flags the analysis pipeline stored on the fit, in this app's vocabulary.
    for stored_flag, code in STORED_FIT_FLAGS.items():
        if stored_flag in stored:
            note = notes.get(stored_flag) or stored_flag.replace("_", " ")
            merge_flags(flags, {code: f"spectrum {spectrum.pk}: {note}"})
    kk = getattr(spectrum, "kk_check", None) if _has_kk(spectrum) else None
    if kk is not None and not kk.passed and "kk_failed" not in flags:
        flags["kk_failed"] = f"spectrum {spectrum.pk}: {kk.failure_text}"
    rms = rms_relative_residual(fit.residuals_real, fit.residuals_imag, reduced_chi_square=fit.reduced_chi_square,
                                modulus_weighted=fit.protocol.weighting == "modulus")
    if rms is not None and rms > POOR_FIT_RMS_RELATIVE_RESIDUAL and "poor_fit" not in flags:
        flags["poor_fit"] = f"spectrum {spectrum.pk}: rms residual {rms:.1%}"
    pinned = [name for name, b in (fit.protocol.bounds or {}).items()
                if name in fit.parameters and isinstance(b, (list, tuple)) and len(b) == 2
                and at_bound(float(fit.parameters[name]), b[0], b[1])]
    if pinned and "parameter_at_bound" not in flags:
        flags["parameter_at_bound"] = f"spectrum {spectrum.pk}: " + ", ".join(sorted(pinned))
    if thickness_cm and area_cm2:
        mismatches = []
        roles = fit.roles  # as the pipeline assigned them
        for role, accepted in ACCEPTED_ARC_LABELS.items():
            rs = [n for n, r in roles.items() if r == role and RESISTOR_NAME.match(n) and n in fit.parameters]
            cs = [n for n, r in roles.items() if r == role and (CAPACITOR_NAME.match(n) or CPE_NAME.match(n))]
            if len(rs) != 1 or len(cs) != 1:
                continue
            capacitance = _effective_capacitance(fit, rs[0], cs[0])
            if capacitance is None or not capacitance > 0 or not math.isfinite(capacitance):
                continue
            label = eis_derived.assign_arc(capacitance, thickness_cm, area_cm2)
            if label not in accepted:
                mismatches.append(f"{rs[0]} as {role} but C = {capacitance:.2g} F looks {label.replace('_', ' ')}")
        if mismatches and "arc_assignment_mismatch" not in flags:
            flags["arc_assignment_mismatch"] = f"spectrum {spectrum.pk}: " + "; ".join(mismatches)
    return flags


def _has_kk(spectrum) -> bool:
    try:
        spectrum.kk_check
    except ImpedanceSpectrum.kk_check.RelatedObjectDoesNotExist:
        return False
    return True


def merge_flags(target: dict[str, str], more: dict[str, str]) -> None:
    """Add `more` to `target`; a code present in both keeps both notes, joined by "; "."""
    for code, note in more.items():
        target[code] = f"{target[code]}; {note}" if code in target else note


def pressure_history_flag(cells) -> dict[str, str]:
    """The non-blocking "no_pressure_history" flag when none of `cells` has a pressure step."""
    if cells and not any(len(c.pressure_steps.all()) for c in cells):
        names = ", ".join(c.name for c in cells[:3])
        return {"no_pressure_history": f"no pressure steps for {names}"}
    return {}
