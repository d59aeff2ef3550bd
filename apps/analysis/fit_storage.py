"""What a fit row stores of its reading (``FitResult.derived``), and how the rest comes back (no Django).

Most numbers of a reading (``eis.interpret_fit``) follow from the fit's parameters and the geometry stored
beside them: a resistor's resistance and its error are its parameter and that parameter's standard error;
an arc's effective capacitance, time constant, apex frequency and normalised capacitance are closed forms
of R, Q, n and L/A (``eis.interpretation.arc_quantities``); the cell constant is L/A; a conductivity kind
made of one resistor carries that resistor's value and error. Stored again they were half of a fit row.

``compact_derived`` leaves out each of them only where ``expand_derived`` gives back the very same value
(compared as JSON text, so bit for bit), checks the whole dict comes back equal, and marks what it stored
``"compact": true``; any other dict (a failed fit's, one stored before, a hand-written one) is stored and
read as it is. What the data alone decided stays stored: roles, arc assignments, lead corrections, the
errors of sums (from the covariance), the rms residual, flag details, bound findings and model choice.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from .eis.interpretation import arc_quantities

#: Marks a stored dict whose recomputable numbers were left out.
COMPACT_MARK = "compact"

#: Per-element keys given back from the parameters (``assignment`` is not: it is the judgement the flags used).
_ELEMENT_KEYS = ("resistance_ohm", "resistance_stderr_ohm", "capacitance_f", "time_constant_s", "apex_frequency_hz",
                 "capacitance_normalised_f_per_cm")


def _finite_or_none(value: Any) -> Any:
    """As the fit row stores a number (jsonb refuses NaN and Infinity)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _same(a: Any, b: Any) -> bool:
    """Equal as stored, so as JSON text: same types (1 ≠ 1.0, True ≠ 1), floats bit for bit (-0.0 ≠ 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _element_values(name: str, entry: Mapping[str, Any], parameters: Mapping[str, float],
                    stderr: Mapping[str, float | None], thickness_cm, area_cm2) -> dict[str, Any]:
    """What ``interpret_fit`` put in a resistor's entry that its parameters give back."""
    values: dict[str, Any] = {"resistance_ohm": parameters[name], "resistance_stderr_ohm": stderr.get(name)}
    capacitive = entry.get("capacitive_element")
    if capacitive is not None:
        values.update(arc_quantities(parameters[name], capacitive, parameters, thickness_cm, area_cm2))
    return {key: _finite_or_none(value) for key, value in values.items()}


def _kind_values(name: str, elements: Mapping[str, Mapping[str, Any]], parameters: Mapping[str, float],
                 stderr: Mapping[str, float | None]) -> dict[str, Any]:
    """A conductivity kind made of one resistor: its (lead-corrected) resistance and that parameter's error."""
    return {"value": elements[name].get("sample_resistance_ohm", parameters[name]), "stderr": stderr.get(name)}


def _cell_constant(derived: Mapping[str, Any]) -> float | None:
    thickness_cm, area_cm2 = derived.get("thickness_cm"), derived.get("area_cm2")
    return (thickness_cm / area_cm2) if thickness_cm and area_cm2 else None


def expand_derived(stored: Any, parameters: Mapping[str, float], stderr: Mapping[str, float | None]) -> Any:
    """The reading as ``interpret_fit`` made it, from a compact stored dict and the fit's parameters and errors;
    anything not marked compact is returned as it is."""
    if not (isinstance(stored, dict) and stored.get(COMPACT_MARK) is True):
        return stored
    derived = {key: value for key, value in stored.items() if key != COMPACT_MARK}
    thickness_cm, area_cm2 = derived.get("thickness_cm"), derived.get("area_cm2")
    elements = {
        name: {**_element_values(name, entry, parameters, stderr, thickness_cm, area_cm2), **entry}
        for name, entry in derived["elements"].items()
    }
    derived["elements"] = elements
    if "resistances_ohm" in derived:
        derived["resistances_ohm"] = {
            kind: _kind_values(entry, elements, parameters, stderr) if isinstance(entry, str) else entry
            for kind, entry in derived["resistances_ohm"].items()
        }
    if "cell_constant_per_cm" not in derived:
        derived["cell_constant_per_cm"] = _cell_constant(derived)
    return derived


def compact_derived(derived: Any, parameters: Mapping[str, float], stderr: Mapping[str, float | None]) -> Any:
    """``derived`` without the numbers ``expand_derived`` gives back exactly, marked compact; ``derived`` itself
    when it is not a reading of a fit with elements, or when it would not come back equal."""
    if not (isinstance(derived, dict) and isinstance(derived.get("elements"), dict)
            and isinstance(derived.get("resistances_ohm", {}), dict) and COMPACT_MARK not in derived):
        return derived
    try:
        compact = _strip(derived, parameters, stderr)
        if _same(expand_derived(compact, parameters, stderr), derived):
            return compact
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
        pass  # a dict the rules do not fit: stored whole
    return derived


def _strip(derived: dict, parameters: Mapping[str, float], stderr: Mapping[str, float | None]) -> dict:
    thickness_cm, area_cm2 = derived.get("thickness_cm"), derived.get("area_cm2")
    elements = {}
    for name, entry in derived["elements"].items():
        given_back = _element_values(name, entry, parameters, stderr, thickness_cm, area_cm2)
        elements[name] = {k: v for k, v in entry.items() if not (k in given_back and _same(given_back[k], v))}
    kinds = {}
    for kind, entry in derived.get("resistances_ohm", {}).items():
        single = [name for name in derived["elements"] if name in parameters
                  and _same(_kind_values(name, derived["elements"], parameters, stderr), entry)]
        kinds[kind] = single[0] if single else entry
    compact = {**derived, "elements": elements, COMPACT_MARK: True}
    if "resistances_ohm" in derived:
        compact["resistances_ohm"] = kinds
    if "cell_constant_per_cm" in derived and _same(_cell_constant(derived), derived["cell_constant_per_cm"]):
        del compact["cell_constant_per_cm"]
    return compact
