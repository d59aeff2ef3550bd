"""The bounds of the fit protocols: which are physical limits, which are search ranges, and why.

A *physical limit* is where an element stops meaning anything (a CPE exponent n above 1 has no passive
meaning, n = 1 is the ideal capacitor; a resistance or a capacitance below zero): the element types' own
bounds in ``eis.circuits``. A *search range* is a protocol's choice of where to look (a CPE exponent
n ≥ 0.6 keeps a pellet's bulk or grain-boundary arc an arc rather than a diffusion tail), not a fact of
the sample.

Every lower bound on a CPE exponent in the standard protocols is a search range, the upper bound n ≤ 1 a
physical limit. Real spectra fall outside the search ranges: a Li|SE|Cu or Li|SE|Li interface arc with a
porous or rough interphase has n ≈ 0.3 (measured on a Li/Cu cell: the protocol's n ≥ 0.4 held n at the
bound and the cost was 3× what free bounds reach). So a standard fit refits a parameter that a search
range holds with that bound released to the physical limit and keeps the relaxed fit when its cost is
lower (``BOUND_POLICY_STANDARD`` = "relax", ``eis.fitting.fit_circuit``). Evidence: a synthetic
symmetric-cell spectrum (``L0-R0-p(R1,CPE1)-p(R2,CPE2)``, 71 points from 1 MHz to 0.1 Hz, 0.3 % noise, the
second interface arc with n = 0.3) fitted under the "Symmetric Li cell" bounds: with n ≥ 0.4 kept the cost
is 5.9× the relaxed one and every resistance is off (R0 +47 %, R1 +118 %, R2 −27 %); relaxed, all three
are within 4 % of the truth. A bound that holds n distorts the resistances the database reports, not
just n (``tests/analysis/test_bound_findings.py`` checks the same on a one-arc interface). A group's own protocol keeps its bounds (``BOUND_POLICY_GROUP`` = "report"): the group chose them,
and the fit says what the bound costs instead.

Pure Python, no Django.
"""
from __future__ import annotations

from .eis.circuits import parse_circuit
from .protocols import (
    BLOCKING_PELLET,
    BLOCKING_PELLET_BULK_BEYOND,
    CELL_WITH_ELECTRODES,
    HYBRID_OR_POLYMER,
    SYMMETRIC_LI_CELL,
)

#: What a standard protocol's fit does with a search-range bound that holds a parameter.
BOUND_POLICY_STANDARD = "relax"
#: What a group's protocol's fit does with it: keep the group's bounds, report the cost.
BOUND_POLICY_GROUP = "report"

PHYSICAL_LIMIT = "physical_limit"
SEARCH_RANGE = "search_range"
BOUND_KINDS = [PHYSICAL_LIMIT, SEARCH_RANGE]  # what a side of a bound is (API choice set)

_N_UPPER = "n ≤ 1 is a physical limit (n = 1 is the ideal capacitor; n > 1 has no passive meaning)."
_ARC_N = ("n ≥ 0.6 is a search range: it keeps a pellet's bulk or grain-boundary arc an arc, not a diffusion "
          "tail. Released when it holds the fit. " + _N_UPPER)
_SPIKE_N = ("n ≥ 0.3 is a search range: a blocking electrode's spike or diffusion tail has n of 0.5–1; lower "
            "is a sign of a wrong circuit. Released when it holds the fit. " + _N_UPPER)
_INTERFACE_N = ("n ≥ 0.4 is a search range, not a physical limit: a porous or rough interphase (Li/Cu, Li/Li) "
                "can give n ≈ 0.3. Released when it holds the fit. " + _N_UPPER)
_MIXED_N = ("n ≥ 0.4 is a search range: the overlapping arcs of a polymer or hybrid are strongly depressed but "
            "still arcs. Released when it holds the fit. " + _N_UPPER)

#: Why each standard protocol's bounds are what they are, by protocol name and parameter.
STANDARD_BOUND_REASONS: dict[str, dict[str, str]] = {
    BLOCKING_PELLET: {"CPE1_n": _ARC_N, "CPE2_n": _ARC_N, "CPE3_n": _SPIKE_N},
    BLOCKING_PELLET_BULK_BEYOND: {"CPE1_n": _ARC_N, "CPE2_n": _SPIKE_N},
    SYMMETRIC_LI_CELL: {"CPE1_n": _ARC_N, "CPE2_n": _INTERFACE_N},
    CELL_WITH_ELECTRODES: {"CPE1_n": _ARC_N, "CPE2_n": _INTERFACE_N, "CPE3_n": _SPIKE_N},
    HYBRID_OR_POLYMER: {"CPE1_n": _MIXED_N, "CPE2_n": _SPIKE_N},
}

_GROUP_REASON = ("Set by the protocol's group. A bound inside the element's physical range is a search range: "
                 "the fit keeps it and reports the cost when it holds a parameter.")


def bound_policy(*, is_standard: bool) -> str:
    """``bound_policy`` of ``eis.fitting.fit_circuit`` for a protocol (see the module docstring)."""
    return BOUND_POLICY_STANDARD if is_standard else BOUND_POLICY_GROUP


def bound_notes(*, circuit: str, bounds: dict, name: str = "", is_standard: bool = False) -> list[dict]:
    """Per bounded parameter of a protocol: ``parameter``, ``low``, ``high``, what each side is
    (``low_kind``/``high_kind``: "physical_limit" when it equals the element's own bound, else
    "search_range") and the ``reason``, in the circuit's parameter order."""
    try:
        parsed = parse_circuit(circuit)
    except ValueError:
        return []
    physical = dict(zip(parsed.parameter_names, parsed.bounds))
    reasons = STANDARD_BOUND_REASONS.get(name, {}) if is_standard else {}
    notes = []
    for parameter in parsed.parameter_names:
        if parameter not in (bounds or {}):
            continue
        low, high = (float(v) for v in bounds[parameter])
        physical_low, physical_high = physical[parameter]
        notes.append({
            "parameter": parameter, "low": low, "high": high,
            "low_kind": PHYSICAL_LIMIT if low <= physical_low else SEARCH_RANGE,
            "high_kind": PHYSICAL_LIMIT if high >= physical_high else SEARCH_RANGE,
            "reason": reasons.get(parameter, _GROUP_REASON),
        })
    return notes


def finding_fields(finding, *, name: str, value: float) -> dict:
    """A bound finding (``eis.bound_release.BoundFinding``) as stored in ``FitResult.derived["bound_findings"]``:
    ``name`` is the parameter's stored name (blocks are renumbered after the fit), ``value`` its value in the
    stored fit (the bound, or where it went when the relaxed fit was kept)."""
    ratio = finding.cost_ratio
    return {
        "parameter": name, "side": finding.side, "bound": finding.bound,
        "physical_limit": finding.physical_limit, "value": float(value), "value_relaxed": finding.value_relaxed,
        "cost_at_bound": finding.cost_at_bound, "cost_relaxed": finding.cost_relaxed,
        "cost_ratio": ratio if ratio != float("inf") else None, "relaxed_fit_kept": finding.relaxed,
    }


#: A relaxed cost at least this much lower counts as the bound deciding the answer.
DECIDING_COST_RATIO = 1.1


def finding_text(entry: dict) -> str:
    """A stored bound finding in words, for the fit's flag note and its page."""
    name, side, bound = entry.get("parameter", "?"), entry.get("side", ""), entry.get("bound")
    ratio = entry.get("cost_ratio")
    at = f"{name} was held at its {side} bound {bound:.4g}"
    costs = (f"the cost falls {ratio:.1f}× ({entry.get('cost_at_bound', 0.0):.3g} → "
             f"{entry.get('cost_relaxed', 0.0):.3g})") if ratio else "the cost falls to zero"
    if entry.get("relaxed_fit_kept"):
        return (f"{at} (a search range); released to {entry.get('physical_limit', 0.0):.4g} it goes to "
                f"{entry.get('value_relaxed', 0.0):.4g} and {costs}: the relaxed fit is the one stored.")
    if ratio is not None and ratio < DECIDING_COST_RATIO:
        return f"{at}, but releasing it does not lower the cost: the bound does not decide the answer."
    return (f"{at}; released to {entry.get('physical_limit', 0.0):.4g} it would go to "
            f"{entry.get('value_relaxed', 0.0):.4g} and {costs}: the protocol's bounded fit is stored.")
