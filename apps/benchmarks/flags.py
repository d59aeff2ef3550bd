"""Quality flags of benchmark entries: the flags this app writes (`FLAGS`) and the flags of one standard fit.

Every flag is defined once in the registry `apps.common.flags` (this app registers `FLAGS` in
`BenchmarksConfig.ready`; the fit flags are registered by `apps.analysis`). A flag of severity
``blocks_leaderboard`` keeps an entry off the leaderboards. `fit_flags` reads what the analysis
pipeline judged and stored on a fit (its flags, roles, Kramers–Kronig check) — one rule for
"at a bound" and "poor fit", the pipeline's — and adds the arc assignment from the effective
capacitance (`eis.derived`).
"""
from __future__ import annotations

import math
import re

from apps.analysis.eis import derived as eis_derived
from apps.analysis.models import FitResult
from apps.common import flags as flag_registry
from apps.common.flags import BLOCKS_LEADERBOARD, INFORMATIVE, Flag
from apps.measurements.models import ImpedanceSpectrum

RESISTOR_NAME = re.compile(r"^R\d*$")
CAPACITOR_NAME = re.compile(r"^C\d*$")
CPE_NAME = re.compile(r"^CPE\d*$")

FLAGS: dict[str, Flag] = {
    f.code: f
    for f in (
        Flag("poor_fit", "Poor fit (rms residual > 2 %)",
             "The circuit does not describe the spectrum, so its resistances are not the sample's.",
             BLOCKS_LEADERBOARD),
        Flag("implausible_for_family", "Conductivity implausible for the family",
             "Outside the physically plausible range of its family: usually a unit, thickness or area error.",
             BLOCKS_LEADERBOARD),
        Flag("ccd_without_protocol", "CCD without its protocol",
             "A CCD without step size, capacity per half-cycle, temperature and failure rule cannot be compared.",
             BLOCKS_LEADERBOARD),
        Flag("arc_assignment_mismatch", "Arc assignment at odds with its capacitance",
             "The element's effective capacitance points to another origin (Irvine, Sinclair & West 1990).",
             INFORMATIVE),
        Flag("extrapolated", "Extrapolated to 25 °C",
             "25 °C lies outside the measured temperatures; the value rests on the Arrhenius law holding there.",
             INFORMATIVE),
        Flag("no_pressure_history", "No stack-pressure history",
             "Without the pressure history the number cannot be set beside others measured under load.",
             INFORMATIVE),
        Flag("points_left_out", "Flagged spectra left out of the series",
             "Spectra whose fit carries a blocking flag are left out of the Arrhenius series; the value rests on "
             "the others.", INFORMATIVE),
    )
}


def blocking(codes) -> bool:
    """True when any of the flag codes keeps a number off the leaderboards (severity in the registry)."""
    return any(flag_registry.is_blocking(code) for code in codes)


def _effective_capacitance(fit: FitResult, r_name: str, c_name: str) -> float | None:
    p = fit.parameters
    if CAPACITOR_NAME.match(c_name) and c_name in p:
        return float(p[c_name])
    if CPE_NAME.match(c_name) and f"{c_name}_Q" in p and f"{c_name}_n" in p:
        return eis_derived.effective_capacitance_rq(float(p[r_name]), float(p[f"{c_name}_Q"]), float(p[f"{c_name}_n"]))
    return None


#: Fit flags written by the analysis pipeline (apps.analysis.services) that read differently on an entry;
#: every other blocking fit flag is carried under its own code.
STORED_FIT_FLAGS = {
    "poor_chi_square": "poor_fit",
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
    # Flags the analysis pipeline judged and stored on the fit (the one rule for bounds and residuals),
    # in this app's vocabulary: the renamed ones and every other blocking one.
    for stored_flag in sorted(stored):
        code = STORED_FIT_FLAGS.get(stored_flag, stored_flag)
        if stored_flag in STORED_FIT_FLAGS or flag_registry.is_blocking(stored_flag):
            note = notes.get(stored_flag) or flag_registry.get(stored_flag).title
            merge_flags(flags, {code: f"spectrum {spectrum.pk}: {note}"})
    kk = getattr(spectrum, "kk_check", None) if _has_kk(spectrum) else None
    if kk is not None and kk.failed and "kk_failed" not in flags:
        flags["kk_failed"] = f"spectrum {spectrum.pk}: {kk.failure_text}"
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


#: Notes a flag keeps, joined by "; " (the rest are counted): an entry of a separator with 36,000 spectra at
#: 25 °C would otherwise carry a note per spectrum (885 kB at 1 M spectra).
NOTES_PER_FLAG = 5
_MORE_NOTES = re.compile(r"; and (\d+) more$")


def joined_notes(notes) -> str:
    """The first NOTES_PER_FLAG notes joined by "; ", then how many more there are."""
    notes = list(notes)
    shown = "; ".join(notes[:NOTES_PER_FLAG])
    return shown + (f"; and {len(notes) - NOTES_PER_FLAG} more" if len(notes) > NOTES_PER_FLAG else "")


def merge_flags(target: dict[str, str], more: dict[str, str]) -> None:
    """Add `more` to `target`; a code present in both keeps both notes, joined by "; ", up to NOTES_PER_FLAG
    parts, then counts the rest ("; and 12 more")."""
    for code, note in more.items():
        if code not in target:
            target[code] = note
            continue
        current = target[code]
        counted = _MORE_NOTES.search(current)
        if counted:
            target[code] = f"{current[:counted.start()]}; and {int(counted.group(1)) + 1} more"
        elif current.count("; ") + 1 >= NOTES_PER_FLAG:
            target[code] = f"{current}; and 1 more"
        else:
            target[code] = f"{current}; {note}"


def pressure_history_flag(cells) -> dict[str, str]:
    """The non-blocking "no_pressure_history" flag when none of `cells` has a pressure step."""
    if cells and not any(len(c.pressure_steps.all()) for c in cells):
        # Counted, not named: the entry of a public separator is read by people who may not see its cells.
        which = "its cell" if len(cells) == 1 else f"any of its {len(cells)} cells"
        return {"no_pressure_history": f"no pressure steps recorded for {which}"}
    return {}
