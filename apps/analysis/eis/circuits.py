"""Equivalent circuits: element impedances, the circuit-string parser and a
vectorised evaluator with analytic Jacobian.

Circuit strings follow impedance.py's syntax so users can move over:
series with ``-``, parallel with ``p(a,b,...)``, arbitrary nesting, and
elements named by type plus an index (``R0``, ``CPE1``, ``Wo1``).

Elements (s = jω, ω = 2πf in rad/s):

==== ============================ ========================================
type parameters (units)           impedance
==== ============================ ========================================
R    R (Ohm)                      Z = R
C    C (F)                        Z = 1 / (s C)
L    L (H)                        Z = s L
CPE  Q (F s^(n-1)), n (-)         Z = 1 / (Q s^n)
W    sigma (Ohm s^-1/2)           Z = σ (1 - j) / √ω   (semi-infinite Warburg)
Wo   R (Ohm), tau (s)             Z = R coth(√(sτ)) / √(sτ)  (finite, reflective)
Ws   R (Ohm), tau (s)             Z = R tanh(√(sτ)) / √(sτ)  (finite, transmissive)
G    R (Ohm), tau (s)             Z = R / √(1 + sτ)    (Gerischer)
La   L (H s^(alpha-1)), alpha (-) Z = L s^α            (inductive CPE)
==== ============================ ========================================

Note: impedance.py evaluates ``La`` as (L s)^α; here it is L·s^α, so that L
keeps the meaning of a (generalised) inductance prefactor.

A single-parameter element exposes its parameter under its own name (``R1``,
``C1``, ``L0``); the others as ``<name>_<parameter>`` (``CPE1_Q``,
``CPE1_n``, ``Wo1_tau``, ``W1_sigma``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "CircuitSyntaxError",
    "Circuit",
    "ELEMENT_TYPES",
    "parse_circuit",
    "circuit_impedance",
]


class CircuitSyntaxError(ValueError):
    """A circuit string could not be parsed; the message names the 0-based
    character position and the problem."""


# --------------------------------------------------------------------------
# Element kernels. Each takes (params: list of 1-D arrays/scalars, omega)
# and returns (Z, [dZ/dp_0, dZ/dp_1, ...]) as complex arrays over omega.
# --------------------------------------------------------------------------


def _z_r(p, w):
    (r,) = p
    z = np.full(w.shape, r, dtype=complex)
    return z, [np.ones(w.shape, dtype=complex)]


def _z_c(p, w):
    (c,) = p
    z = 1.0 / (1j * w * c)
    return z, [-z / c]


def _z_l(p, w):
    (ell,) = p
    s = 1j * w
    return s * ell, [s]


def _log_s(w):
    # ln(jω) = ln ω + jπ/2, exact on the positive imaginary axis
    return np.log(w) + 0.5j * np.pi


def _z_cpe(p, w):
    q, n = p
    log_s = _log_s(w)
    z = np.exp(-n * log_s) / q
    return z, [-z / q, -z * log_s]


def _z_w(p, w):
    (sigma,) = p
    base = (1 - 1j) / np.sqrt(w)
    return sigma * base, [base]


def _sqrt_s_tau(w, tau):
    # √(jωτ) on the principal branch: √(ωτ/2)(1 + j)
    a = np.sqrt(w * tau / 2.0)
    return a * (1 + 1j)


def _z_wo(p, w):
    r, tau = p
    x = _sqrt_s_tau(w, tau)
    e = np.exp(-2 * x)
    one_minus = -np.expm1(-2 * x)
    coth = (1 + e) / one_minus
    csch2 = 4 * e / one_minus**2
    shape = coth / x
    z = r * shape
    dtau = -r / (2 * tau) * (csch2 + shape)
    return z, [shape, dtau]


def _z_ws(p, w):
    r, tau = p
    x = _sqrt_s_tau(w, tau)
    e = np.exp(-2 * x)
    one_minus = -np.expm1(-2 * x)
    tanh = one_minus / (1 + e)
    sech2 = 4 * e / (1 + e) ** 2
    shape = tanh / x
    z = r * shape
    dtau = r / (2 * tau) * (sech2 - shape)
    return z, [shape, dtau]


def _z_g(p, w):
    r, tau = p
    s = 1j * w
    one_plus = 1 + s * tau
    shape = 1.0 / np.sqrt(one_plus)
    z = r * shape
    return z, [shape, -z * s / (2 * one_plus)]


def _z_la(p, w):
    ell, alpha = p
    log_s = _log_s(w)
    shape = np.exp(alpha * log_s)
    z = ell * shape
    return z, [shape, z * log_s]


@dataclass(frozen=True)
class ElementType:
    """One element type: its parameter names, units, default bounds (linear
    values) and whether the fitter searches the parameter in log space."""

    symbol: str
    parameters: tuple[str, ...]
    units: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    log_scale: tuple[bool, ...]
    kernel: Callable
    description: str


_R_BOUNDS = (1e-9, 1e13)
_TAU_BOUNDS = (1e-12, 1e8)

ELEMENT_TYPES: dict[str, ElementType] = {
    e.symbol: e
    for e in [
        ElementType("R", ("R",), ("Ohm",), (_R_BOUNDS,), (True,), _z_r, "resistor"),
        ElementType("C", ("C",), ("F",), ((1e-18, 1e6),), (True,), _z_c, "capacitor"),
        ElementType("L", ("L",), ("H",), ((1e-15, 1e3),), (True,), _z_l, "inductor"),
        ElementType(
            "CPE", ("Q", "n"), ("F s^(n-1)", ""), ((1e-18, 1e6), (0.0, 1.0)),
            (True, False), _z_cpe, "constant-phase element",
        ),
        ElementType(
            "W", ("sigma",), ("Ohm s^-1/2",), ((1e-9, 1e13),), (True,), _z_w,
            "semi-infinite Warburg",
        ),
        ElementType(
            "Wo", ("R", "tau"), ("Ohm", "s"), (_R_BOUNDS, _TAU_BOUNDS), (True, True),
            _z_wo, "finite-length Warburg, reflective (open) boundary",
        ),
        ElementType(
            "Ws", ("R", "tau"), ("Ohm", "s"), (_R_BOUNDS, _TAU_BOUNDS), (True, True),
            _z_ws, "finite-length Warburg, transmissive (short) boundary",
        ),
        ElementType(
            "G", ("R", "tau"), ("Ohm", "s"), (_R_BOUNDS, _TAU_BOUNDS), (True, True),
            _z_g, "Gerischer",
        ),
        ElementType(
            "La", ("L", "alpha"), ("H s^(alpha-1)", ""), ((1e-15, 1e3), (0.0, 1.0)),
            (True, False), _z_la, "inductive constant-phase element",
        ),
    ]
}

# Longest symbols first so that "CPE1" is not read as "C" + "PE1".
_SYMBOLS_BY_LENGTH = sorted(ELEMENT_TYPES, key=len, reverse=True)


# --------------------------------------------------------------------------
# Circuit tree
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    name: str
    type: ElementType
    first_index: int  # column of its first parameter in the parameter vector
    position: int  # character position in the circuit string

    @property
    def parameter_names(self) -> list[str]:
        if len(self.type.parameters) == 1 and self.type.symbol in ("R", "C", "L"):
            return [self.name]
        return [f"{self.name}_{p}" for p in self.type.parameters]


@dataclass(frozen=True)
class Series:
    children: tuple


@dataclass(frozen=True)
class Parallel:
    children: tuple


def _evaluate(node, params, w, want_jac):
    """Return (Z, cols) for a node; cols maps parameter index -> dZ/dp
    (n_freq,), or is None when the Jacobian is not wanted."""
    if isinstance(node, Element):
        k = len(node.type.parameters)
        z, dz = node.type.kernel(list(params[node.first_index : node.first_index + k]), w)
        if not want_jac:
            return z, None
        return z, {node.first_index + i: d for i, d in enumerate(dz)}
    parts = [_evaluate(c, params, w, want_jac) for c in node.children]
    if isinstance(node, Series):
        z = parts[0][0]
        for zi, _ in parts[1:]:
            z = z + zi
        if not want_jac:
            return z, None
        cols = {}
        for _, ci in parts:
            cols.update(ci)
        return z, cols
    # Parallel: Z = 1/ΣY_i and dZ/dp = (Z/Z_i)^2 dZ_i/dp for p inside branch i
    y = 1.0 / parts[0][0]
    for zi, _ in parts[1:]:
        y = y + 1.0 / zi
    z = 1.0 / y
    if not want_jac:
        return z, None
    cols = {}
    for zi, ci in parts:
        factor = (z / zi) ** 2
        for index, d in ci.items():
            cols[index] = factor * d
    return z, cols


class Circuit:
    """A compiled equivalent circuit.

    Attributes
    ----------
    text: the circuit string as given.
    elements: the elements in order of appearance.
    parameter_names: flat parameter names (``R1``, ``CPE1_Q``, ...).
    parameter_units: units of each parameter, same order.
    bounds: default (lower, upper) bounds per parameter, linear values.
    log_scale: whether the fitter searches each parameter in log space.
    """

    def __init__(self, text: str, root, elements: list[Element]):
        self.text = text
        self.root = root
        self.elements = elements
        self.parameter_names: list[str] = [n for e in elements for n in e.parameter_names]
        self.parameter_units: list[str] = [u for e in elements for u in e.type.units]
        self.bounds: list[tuple[float, float]] = [b for e in elements for b in e.type.bounds]
        self.log_scale: list[bool] = [s for e in elements for s in e.type.log_scale]
        self._element_by_name = {e.name: e for e in elements}

    def __repr__(self) -> str:
        return f"Circuit({self.text!r})"

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_names)

    def element(self, name: str) -> Element:
        return self._element_by_name[name]

    def _prepare(self, params, frequencies_hz):
        p = np.asarray(params, dtype=float).ravel()
        if p.size != self.n_parameters:
            raise ValueError(
                f"circuit {self.text!r} has {self.n_parameters} parameters "
                f"{self.parameter_names}, got {p.size}"
            )
        f = np.asarray(frequencies_hz, dtype=float)
        return p, 2 * np.pi * np.atleast_1d(f).ravel(), f.shape

    def impedance(self, params, frequencies_hz) -> np.ndarray:
        """Complex impedance (Ohm) at the given frequencies (Hz)."""
        p, w, shape = self._prepare(params, frequencies_hz)
        z, _ = _evaluate(self.root, p, w, False)
        return z.reshape(shape) if shape else z[0]

    def jacobian(self, params, frequencies_hz) -> np.ndarray:
        """Analytic dZ/dp, complex, shape (n_freq, n_params)."""
        return self.impedance_and_jacobian(params, frequencies_hz)[1]

    def impedance_and_jacobian(self, params, frequencies_hz) -> tuple[np.ndarray, np.ndarray]:
        """Both Z (n_freq,) and dZ/dp (n_freq, n_params) in one pass."""
        p, w, _ = self._prepare(params, frequencies_hz)
        z, cols = _evaluate(self.root, p, w, True)
        jac = np.empty((w.size, p.size), dtype=complex)
        for index, d in cols.items():
            jac[:, index] = d
        return z, jac

    def parameter_vector(self, parameters: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """Parameters as a vector in ``parameter_names`` order, from a dict
        (all names required) or a sequence."""
        if isinstance(parameters, Mapping):
            missing = [n for n in self.parameter_names if n not in parameters]
            unknown = [n for n in parameters if n not in self.parameter_names]
            if missing or unknown:
                raise ValueError(
                    f"parameters for {self.text!r}: missing {missing}, unknown {unknown}"
                )
            return np.array([float(parameters[n]) for n in self.parameter_names])
        p = np.asarray(parameters, dtype=float).ravel()
        if p.size != self.n_parameters:
            raise ValueError(
                f"circuit {self.text!r} needs {self.n_parameters} parameters, got {p.size}"
            )
        return p


# --------------------------------------------------------------------------
# Parser (recursive descent over the characters, whitespace ignored)
# --------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.elements: list[Element] = []
        self.names: dict[str, int] = {}
        self.n_params = 0

    def error(self, position: int, problem: str) -> CircuitSyntaxError:
        return CircuitSyntaxError(f"position {position}: {problem} in circuit {self.text!r}")

    def skip_space(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self):
        if not self.text.strip():
            raise CircuitSyntaxError("position 0: empty circuit string")
        node = self.series()
        ch = self.peek()
        if ch == ")":
            raise self.error(self.pos, "unbalanced parentheses: unexpected ')'")
        if ch:
            raise self.error(self.pos, f"unexpected character {ch!r}")
        return node

    def series(self):
        terms = [self.term()]
        while self.peek() == "-":
            self.pos += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Series(tuple(terms))

    def term(self):
        self.skip_space()
        start = self.pos
        if start >= len(self.text):
            raise self.error(start, "expected an element or 'p(' but the string ended")
        m = _NAME.match(self.text, start)
        if m is None:
            ch = self.text[start]
            if ch == ")":
                raise self.error(start, "expected an element before ')'")
            raise self.error(start, f"expected an element or 'p(', found {ch!r}")
        name = m.group(0)
        self.pos = m.end()
        if name == "p" and self.peek() == "(":
            open_pos = self.pos
            self.pos += 1
            if self.peek() == ")":
                raise self.error(open_pos, "empty parallel 'p()'")
            branches = [self.series()]
            while self.peek() == ",":
                self.pos += 1
                if self.peek() in (",", ")"):
                    raise self.error(self.pos, "empty branch in parallel")
                branches.append(self.series())
            if self.peek() != ")":
                if self.pos >= len(self.text):
                    raise self.error(open_pos, "unbalanced parentheses: '(' is never closed")
                raise self.error(self.pos, f"expected ',' or ')', found {self.peek()!r}")
            self.pos += 1
            return branches[0] if len(branches) == 1 else Parallel(tuple(branches))
        return self.element(name, start)

    def element(self, name: str, start: int) -> Element:
        symbol = next(
            (s for s in _SYMBOLS_BY_LENGTH if name.startswith(s) and len(name) > len(s)
             and (name[len(s)].isdigit() or name[len(s)] == "_")),
            None,
        )
        if symbol is None:
            if name in ELEMENT_TYPES:
                raise self.error(start, f"element {name!r} needs an index, e.g. '{name}0'")
            raise self.error(start, f"unknown element {name!r}")
        if name in self.names:
            raise self.error(
                start, f"duplicate element name {name!r} (first at position {self.names[name]})"
            )
        self.names[name] = start
        el = Element(name, ELEMENT_TYPES[symbol], self.n_params, start)
        self.n_params += len(el.type.parameters)
        self.elements.append(el)
        return el


_CACHE: dict[str, Circuit] = {}


def parse_circuit(circuit: str) -> Circuit:
    """Compile a circuit string (``"R0-p(R1,CPE1)-Wo1"``) into a Circuit.

    Raises CircuitSyntaxError naming the 0-based position of the problem.
    Compiled circuits are cached by string.
    """
    if isinstance(circuit, Circuit):
        return circuit
    if not isinstance(circuit, str):
        raise CircuitSyntaxError(f"position 0: circuit must be a string, got {type(circuit).__name__}")
    cached = _CACHE.get(circuit)
    if cached is not None:
        return cached
    parser = _Parser(circuit)
    root = parser.parse()
    compiled = Circuit(circuit, root, parser.elements)
    if len(_CACHE) < 1024:
        _CACHE[circuit] = compiled
    return compiled


def circuit_impedance(
    circuit: str | Circuit,
    parameters: Mapping[str, float] | Sequence[float],
    frequencies_hz,
) -> np.ndarray:
    """Complex impedance (Ohm) of ``circuit`` with ``parameters`` (dict by
    parameter name, or a sequence in ``parameter_names`` order) at
    ``frequencies_hz``."""
    c = parse_circuit(circuit)
    return c.impedance(c.parameter_vector(parameters), frequencies_hz)
