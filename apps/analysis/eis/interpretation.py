"""Interpretation of a fitted circuit: what each element means, in plain numbers (no Django).

From a circuit, its fitted parameters with standard errors and covariance, the
protocol's element roles and bounds, and the cell geometry (``FitInput``),
``interpret_fit`` returns a frozen ``FitReading``: per resistor its role,
effective capacitance (Brug 1984 for R‖CPE), time constant, apex frequency and
arc assignment by capacitance (Irvine, Sinclair & West 1990); lead-corrected
sample resistances; arcs hidden under the electrode spike; flags with details
(parameter at a bound, parameter not identifiable, conductivity resting on an
unidentifiable resistance, temperature unknown, poor fit, not converged,
Kramers–Kronig failed, roles reassigned by capacitance); and the resistance of
each conductivity kind with the error of the sum from the covariance
(σ_R² = gᵀ·Σ·g). Flag codes and their severity are registered by
``apps.analysis.flags`` in ``apps.common.flags``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import derived as eis_derived
from .circuits import Circuit, Element, Parallel, Series, circuit_impedance

#: rms of the relative residuals above which a fit is flagged "poor_chi_square".
POOR_FIT_RMS_RELATIVE_RESIDUAL = 0.02
#: Relative distance to a bound that counts as "at the bound".
AT_BOUND_TOLERANCE = 1e-3
#: A parameter whose standard error exceeds this share of its value is not identifiable.
UNIDENTIFIABLE_RELATIVE_STDERR = 1.0
#: A resistance at its lower bound contributing less than this share of the fit's largest resistance is
#: zero (the element is absent): a physical limit, not a fitting bound.
NEGLIGIBLE_RESISTANCE_SHARE = 1e-6

_ROLES_NOT_CHECKED_AT_BOUND = {"series", "inductance"}


@dataclass(frozen=True)
class Geometry:
    """The sample's geometry as the cell states it; ``missing`` says why thickness or area is absent."""

    thickness_cm: float | None
    area_cm2: float | None
    lead_resistance_ohm: float | None = None
    missing: str = ""

    def __post_init__(self) -> None:
        if not self.missing and not (self.thickness_cm and self.area_cm2):
            raise ValueError("Geometry needs a thickness and an area, or the reason they are missing")


@dataclass(frozen=True)
class FitInput:
    """A fit to interpret. ``parameters``, ``stderr`` and ``covariance`` are in the circuit's parameter order
    (canonical: see ``canonical_order``); ``bounds`` maps every parameter to (low, high);
    ``conductivity_roles`` maps each conductivity kind to the roles summed into it; an arc is taken as
    leads when its bare intercept is at most ``bulk_offset_share`` of it; ``kk_failure`` is the text of a
    failed Kramers–Kronig check of the spectrum (None when it passed or was not run); ``kk_insufficient_data``
    the reason a check could not judge the spectrum (too few or too sparse points; None otherwise)."""

    circuit: Circuit
    parameters: Mapping[str, float]
    stderr: Mapping[str, float]
    covariance: np.ndarray | None
    roles: Mapping[str, str]
    bounds: Mapping[str, tuple[float, float]]
    geometry: Geometry
    conductivity_roles: Mapping[str, tuple[str, ...]]
    bulk_offset_share: float
    rms_residual: float = 0.0
    converged: bool = True
    kk_failure: str | None = None
    kk_insufficient_data: str | None = None
    temperature_known: bool = True


@dataclass(frozen=True)
class FitReading:
    """What a fit means: ``derived`` (per element and per kind, JSON-ready apart from non-finite floats),
    sorted ``flags``, and ``resistances`` per conductivity kind as (R Ω, stderr Ω)."""

    derived: Mapping[str, Any]
    flags: tuple[str, ...]
    resistances: Mapping[str, tuple[float, float]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def elements(self) -> Mapping[str, dict]:
        return self.derived["elements"]

    @property
    def hidden_elements(self) -> set[str]:
        return {n for n, e in self.elements.items() if e.get("hidden_under_electrode_spike")}

    def as_fields(self) -> dict[str, Any]:
        """The FitResult fields this reading fills."""
        return {"derived": dict(self.derived), "flags": list(self.flags)}


def _blocks(circuit) -> list[tuple[Any, ...]]:
    """R‖CPE (or R‖C) blocks in series at the top level, as (R element, capacitive element)."""
    root = circuit.root
    children = root.children if isinstance(root, Series) else (root,)
    blocks = []
    for child in children:
        if isinstance(child, Parallel) and len(child.children) == 2 and all(isinstance(c, Element) for c in child.children):
            r = [c for c in child.children if c.type.symbol == "R"]
            cap = [c for c in child.children if c.type.symbol in ("CPE", "C")]
            if len(r) == 1 and len(cap) == 1:
                blocks.append((r[0], cap[0]))
    return blocks


def _time_constant_s(r_ohm: float, cap_element, params: dict) -> float:
    if cap_element.type.symbol == "C":
        return r_ohm * params[cap_element.name]
    q, n = params[f"{cap_element.name}_Q"], params[f"{cap_element.name}_n"]
    return (r_ohm * q) ** (1.0 / n) if n > 0 else math.inf


def arc_quantities(r_ohm: float, capacitive_element: str, params: Mapping[str, float],
                   thickness_cm: float | None, area_cm2: float | None) -> dict[str, float | None]:
    """The arc of R ‖ ``capacitive_element`` (R > 0) in numbers: effective capacitance C (F; the capacitor's
    own, or Brug's C = Q^(1/n)·R^((1−n)/n) for a CPE), time constant τ (s; RC, or (RQ)^(1/n)), apex frequency
    1/(2πτ) (Hz; None for τ ≤ 0) and, with the geometry and a finite C > 0, C·L/A (F/cm).

    A capacitor is a single-parameter element (its value under its own name), a CPE has ``_Q`` and ``_n``:
    ``params`` alone tell them apart, so a stored fit gives these back from its parameters (``fit_storage``).
    """
    if capacitive_element in params:
        c_eff = params[capacitive_element]
        tau = r_ohm * c_eff
    else:
        q, n = params[f"{capacitive_element}_Q"], params[f"{capacitive_element}_n"]
        c_eff = eis_derived.effective_capacitance_rq(r_ohm, q, n)
        tau = (r_ohm * q) ** (1.0 / n) if n > 0 else math.inf
    quantities = {
        "capacitance_f": c_eff, "time_constant_s": tau, "apex_frequency_hz": 1.0 / (2 * math.pi * tau) if tau > 0 else None,
    }
    if thickness_cm and area_cm2 and c_eff > 0 and math.isfinite(c_eff):
        quantities["capacitance_normalised_f_per_cm"] = c_eff * thickness_cm / area_cm2
    return quantities


def canonical_order(circuit, params: Mapping[str, float]) -> list[int]:
    """Permutation of parameter indices that numbers identical R‖CPE blocks by increasing τ.

    The fit cannot tell two identical blocks apart; the protocols' roles
    assume the first-numbered block is the faster (higher-frequency) arc.
    """
    names = circuit.parameter_names
    perm = list(range(len(names)))
    by_shape: dict[tuple, list] = {}
    for r, cap in _blocks(circuit):
        by_shape.setdefault((cap.type.symbol,), []).append((r, cap))
    for blocks in by_shape.values():
        if len(blocks) < 2:
            continue
        taus = [_time_constant_s(params[r.name], cap, params) for r, cap in blocks]
        order = sorted(range(len(blocks)), key=lambda i: taus[i])
        for slot, source in enumerate(order):
            if slot == source:
                continue
            for target_el, source_el in zip(blocks[slot], blocks[source]):
                for t_name, s_name in zip(target_el.parameter_names, source_el.parameter_names):
                    perm[names.index(t_name)] = names.index(s_name)
    return perm


_EXPECTED_ASSIGNMENT = {
    "bulk": {"bulk"},
    "grain_boundary": {"grain_boundary", "surface_layer"},
    "interface": {"grain_boundary", "surface_layer", "electrode"},
    "electrode": {"surface_layer", "electrode"},
}


def interpret_fit(fit: FitInput) -> FitReading:
    """Roles, capacitances, assignments, lead corrections, hidden arcs, flags and summed resistances of a fit."""
    circuit, params, stderr, bounds = fit.circuit, fit.parameters, fit.stderr, fit.bounds
    covariance = fit.covariance
    roles = fit.roles or {}
    names = circuit.parameter_names
    thickness_cm, area_cm2, missing = fit.geometry.thickness_cm, fit.geometry.area_cm2, fit.geometry.missing
    flags: list[str] = []
    details: dict[str, str] = {}
    elements: dict[str, dict] = {}
    capacitive_of = {r.name: cap for r, cap in _blocks(circuit)}

    for element in circuit.elements:
        if element.type.symbol != "R":
            continue
        r = params[element.name]
        entry: dict[str, Any] = {
            "role": roles.get(element.name, ""), "resistance_ohm": r, "resistance_stderr_ohm": stderr.get(element.name),
        }
        cap = capacitive_of.get(element.name)
        if cap is not None and r > 0:
            entry["capacitive_element"] = cap.name
            entry.update(arc_quantities(r, cap.name, params, thickness_cm, area_cm2))
            if "capacitance_normalised_f_per_cm" in entry:
                entry["assignment"] = eis_derived.assign_arc(entry["capacitance_f"], thickness_cm, area_cm2)
        elements[element.name] = entry

    # The bulk-beyond layout (bare intercept = bulk, one arc = grain boundary) is chosen from the shape;
    # when the fitted arc has a bulk capacitance (Irvine, Sinclair & West 1990) the arc *is* the bulk —
    # its apex merely sits near the top of the window — and the intercept is only leads and contacts.
    reassigned = _bulk_arc_mislabelled(elements, capacitive_of, fit.bulk_offset_share)
    if reassigned:
        intercept, arc = reassigned
        elements[arc]["role"] = "bulk"
        note = f"{arc} has a bulk capacitance ({elements[arc]['capacitance_normalised_f_per_cm']:.2g} F/cm): it is bulk"
        if intercept is not None:
            elements[intercept]["role"] = "series"
            note += f", and {intercept} (under a tenth of it) is leads and contacts"
        flags.append("roles_reassigned_by_capacitance")
        details["roles_reassigned_by_capacitance"] = note
    for name, entry in elements.items():
        role, assignment = entry["role"], entry.get("assignment")
        if assignment and role in _EXPECTED_ASSIGNMENT and assignment not in _EXPECTED_ASSIGNMENT[role]:
            flags.append("assignment_at_odds_with_role")
            details.setdefault("assignment_at_odds_with_role", "")
            details["assignment_at_odds_with_role"] += (
                f"{name} is fitted as {role} but its capacitance "
                f"({entry['capacitance_normalised_f_per_cm']:.2g} F/cm) suggests {assignment}. "
            )

    # An arc fitted where the electrode spike is larger than the whole arc is not seen in the data:
    # its R is free (a blocking cell's spike hides any small R‖CPE beneath it), so it is not counted
    # in a conductivity, whatever its role.
    hidden = _arcs_hidden_by_electrode(circuit, roles, params, elements, fit.conductivity_roles)
    if hidden:
        flags.append("arc_hidden_under_electrode_spike")
        details["arc_hidden_under_electrode_spike"] = "; ".join(
            f"{name} ({elements[name]['role']}, {params[name]:.3g} Ω) lies under the electrode spike "
            f"and is left out of the conductivity" for name in hidden
        )
        for name in hidden:
            elements[name]["hidden_under_electrode_spike"] = True

    # The cell's measured lead (short-circuit) resistance sits in the bare high-frequency intercept; when
    # that intercept is counted as sample (bulk / total) it is taken off before σ. A protocol that fits the
    # leads as their own "series" element needs no correction.
    leads = _lead_correction(fit.geometry.lead_resistance_ohm, elements, capacitive_of, hidden, fit.conductivity_roles)
    if leads is not None:
        name, r_leads = leads
        corrected = params[name] - r_leads
        elements[name]["lead_resistance_subtracted_ohm"] = r_leads
        if corrected <= 0:
            flags.append("lead_resistance_exceeds_intercept")
            details["lead_resistance_exceeds_intercept"] = (
                f"the cell's lead resistance ({r_leads:.3g} Ω) is not below the fitted intercept {name} "
                f"({params[name]:.3g} Ω): the intercept is taken as leads only"
            )
            corrected = 0.0
        elements[name]["sample_resistance_ohm"] = corrected

    # Resistances per conductivity kind, with the error of the sum from the covariance.
    resistances: dict[str, tuple[float, float]] = {}
    for kind, kind_roles in fit.conductivity_roles.items():
        members = [n for n in elements if elements[n]["role"] in kind_roles and n not in hidden]
        if not members:
            continue
        g = np.zeros(len(names))
        for n in members:
            g[names.index(n)] = 1.0
        value = float(sum(elements[n].get("sample_resistance_ohm", params[n]) for n in members))
        if covariance is not None and covariance.size:
            variance = float(g @ covariance @ g)
        else:  # no covariance: the members' errors, taken as independent
            variance = sum(float(stderr.get(n, 0.0)) ** 2 for n in members)
        resistances[kind] = (value, math.sqrt(variance) if variance > 0 and math.isfinite(variance) else 0.0)

    at_bound, unidentifiable = _identifiability(fit, elements)
    if at_bound:
        flags.append("parameter_at_bound")
        details["parameter_at_bound"] = "; ".join(at_bound.values())
    if unidentifiable:
        flags.append("parameter_unidentifiable")
        details["parameter_unidentifiable"] = "; ".join(unidentifiable.values())
    # A conductivity is only as determined as the resistance summed into it: it is not when a member sits at
    # a bound, has no finite error, or the sum's error (from the covariance) exceeds the sum. A member the data
    # do not fix but that is small beside the others (an intercept of an ohm under a 500 Ω arc) leaves it sound.
    resting = []
    for kind, (value, error) in resistances.items():
        members = [n for n in elements if elements[n]["role"] in fit.conductivity_roles[kind] and n not in hidden]
        for n in members:
            if n in at_bound:
                resting.append(f"{kind} rests on {n}, at a bound")
            elif n in unidentifiable and not math.isfinite(stderr.get(n, math.nan)):
                resting.append(f"{kind} rests on {n}, with no finite error")
        if value > 0 and error > UNIDENTIFIABLE_RELATIVE_STDERR * value:
            resting.append(f"{kind} R = {value:.3g} ± {error:.2g} Ω")
    if resting:
        flags.append("resistance_unidentifiable")
        details["resistance_unidentifiable"] = "; ".join(resting)
    if not fit.temperature_known:
        flags.append("temperature_unknown")
        details["temperature_unknown"] = (
            "the spectrum states no temperature: its conductivity belongs to no temperature")
    rms_residual = fit.rms_residual
    if rms_residual > POOR_FIT_RMS_RELATIVE_RESIDUAL:
        flags.append("poor_chi_square")
        details["poor_chi_square"] = (
            f"rms relative residual {rms_residual:.2%} exceeds {POOR_FIT_RMS_RELATIVE_RESIDUAL:.0%}"
        )
    if not fit.converged:
        flags.append("not_converged")
        details["not_converged"] = "the optimiser stopped before meeting its tolerance"
    if fit.kk_failure is not None:
        flags.append("kk_failed")
        details["kk_failed"] = fit.kk_failure
    if fit.kk_insufficient_data is not None:
        flags.append("kk_insufficient_data")
        details["kk_insufficient_data"] = fit.kk_insufficient_data

    derived = {
        "elements": elements,
        "resistances_ohm": {k: {"value": v, "stderr": e} for k, (v, e) in resistances.items()},
        "thickness_cm": thickness_cm,
        "area_cm2": area_cm2,
        "cell_constant_per_cm": (thickness_cm / area_cm2) if thickness_cm and area_cm2 else None,
        "rms_relative_residual": rms_residual,
        "flag_details": details,
    }
    if missing:
        derived["conductivity_skipped"] = f"No conductivity: {missing}."
    return FitReading(derived=derived, flags=tuple(sorted(set(flags))), resistances=MappingProxyType(resistances))


def _identifiability(fit: FitInput, elements: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(parameters at a non-physical bound, parameters not identifiable), each {name: why}.

    At a bound: within AT_BOUND_TOLERANCE of a protocol bound (relative for log-scaled parameters, of the
    span otherwise), except at a physical limit — a CPE exponent n = 1 (the ideal capacitor) and a
    resistance at its lower bound that is negligible beside the fit's resistances (the element is absent).
    Not identifiable: at such a bound, or a standard error that is not finite or exceeds
    UNIDENTIFIABLE_RELATIVE_STDERR of the value. Series (leads) and inductance elements are not judged.
    """
    circuit, params, stderr, bounds, roles = fit.circuit, fit.parameters, fit.stderr, fit.bounds, fit.roles or {}
    names = circuit.parameter_names
    resistances = [abs(params[n]) for n in elements if n in params]
    largest_r = max(resistances) if resistances else 0.0
    at_bound: dict[str, str] = {}
    unidentifiable: dict[str, str] = {}
    for name in names:
        element_name = name.split("_")[0]
        role = elements[element_name]["role"] if element_name in elements else roles.get(element_name)
        if role in _ROLES_NOT_CHECKED_AT_BOUND:
            continue
        low, high = bounds[name]
        value = params[name]
        if circuit.log_scale[names.index(name)]:
            at_low = value <= low * (1 + AT_BOUND_TOLERANCE)
            at_high = value >= high * (1 - AT_BOUND_TOLERANCE)
        else:
            span = AT_BOUND_TOLERANCE * (high - low)
            at_low, at_high = value <= low + span, value >= high - span
        # n = 1 is the ideal capacitor, and a vanishing resistance an absent element: physical limits.
        physical_top = name.endswith("_n") and high == 1.0
        physical_zero = element_name in elements and name == element_name and at_low and (
            value <= NEGLIGIBLE_RESISTANCE_SHARE * largest_r)
        if physical_zero or (at_high and physical_top and not at_low):
            continue
        if at_low or at_high:
            at_bound[name] = f"{name} = {value:.4g} (bounds {low:g} … {high:g})"
            unidentifiable[name] = f"{name} at a bound"
            continue
        se = stderr.get(name)
        if se is None or not math.isfinite(se):
            unidentifiable[name] = f"{name} = {value:.4g} with no finite standard error (singular covariance)"
        elif value != 0 and abs(se) > UNIDENTIFIABLE_RELATIVE_STDERR * abs(value):
            unidentifiable[name] = f"{name} = {value:.3g} ± {se:.2g} (relative standard error {abs(se / value):.0%})"
    return at_bound, unidentifiable


def _lead_correction(r_leads: float | None, elements: dict, capacitive_of: dict, hidden: list[str],
                     conductivity_roles_of: Mapping[str, tuple[str, ...]]) -> tuple[str, float] | None:
    """(intercept resistor, lead resistance Ω) when the cell states its lead resistance and the fit has exactly
    one bare resistor (no capacitive partner: the high-frequency intercept) counted in a conductivity."""
    if not r_leads or r_leads <= 0:
        return None
    conductivity_roles = set().union(*conductivity_roles_of.values())
    bare = [
        n for n, e in elements.items()
        if n not in capacitive_of and n not in hidden and e["role"] in conductivity_roles
    ]
    return (bare[0], float(r_leads)) if len(bare) == 1 else None


def _bulk_arc_mislabelled(elements: dict, capacitive_of: dict,
                          bulk_offset_share: float) -> tuple[str | None, str] | None:
    """(intercept or None, arc) when the only bulk resistance is a bare intercept and the only grain-boundary
    arc has a bulk capacitance: the arc is bulk; the intercept is named when it is at most a tenth of the
    arc (leads, not sample). None when nothing is to be reassigned."""
    bare_bulk = [n for n, e in elements.items() if e["role"] == "bulk" and n not in capacitive_of]
    bulk_arcs = [n for n, e in elements.items() if e["role"] == "bulk" and n in capacitive_of]
    gb_arcs = [n for n, e in elements.items() if e["role"] == "grain_boundary" and n in capacitive_of]
    if not (len(bare_bulk) == 1 and not bulk_arcs and len(gb_arcs) == 1):
        return None
    intercept, arc = bare_bulk[0], gb_arcs[0]
    if elements[arc].get("assignment") != "bulk":
        return None
    # Nothing is faster than the bulk, so the intercept is bulk too (the arc is the tail of a bulk arc
    # whose apex lies above the window) — unless it is small beside the arc: then it is leads and contacts.
    small = elements[intercept]["resistance_ohm"] <= bulk_offset_share * elements[arc]["resistance_ohm"]
    return intercept if small else None, arc


def _arcs_hidden_by_electrode(circuit, roles: Mapping[str, str], params: Mapping[str, float], elements: dict,
                              conductivity_roles_of: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Names of the conductivity arcs (R of an R‖CPE) buried under the electrode elements' impedance."""

    electrode = [el for el in circuit.elements if roles.get(el.name) == "electrode"]
    if not electrode:
        return []
    conductivity_roles = set().union(*conductivity_roles_of.values())
    hidden = []
    for name, entry in elements.items():
        f_apex = entry.get("apex_frequency_hz")
        if entry["role"] not in conductivity_roles or not f_apex or not math.isfinite(f_apex):
            continue
        z_series = sum(
            circuit_impedance(el.name, {p: params[p] for p in el.parameter_names}, np.array([f_apex]))[0]
            for el in electrode
        )
        if eis_derived.arc_hidden_by_series_impedance(params[name], abs(z_series)):
            hidden.append(name)
    return hidden

