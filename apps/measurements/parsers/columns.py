"""Column names: the one classifier of impedance-table header names.

Pure; maps a header such as ``-Im(Z)/Ohm`` to its role, sign and unit scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .core import Context


_OHM = "(?:\u03a9|\u2126|[oO]hms?|OHMS?)"
_UNIT_GROUP = re.compile(r"\s*(?:/\s*([^/()\[\]]+)|\(([^()]*)\)|\[([^\[\]]*)\])\s*$")
_UNIT_WORD = re.compile(
    rf"^\s*(?:[kmMGµu]?{_OHM}(?:\s*cm2|\s*cm²)?|[kmM]?hz|deg|degrees?|°|rad|s|sec|v|a|ma|µa|[ab])\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ColumnRole:
    """What a column holds: ``kind`` in freq/real/imag/mod/phase, its sign and scale to SI."""

    kind: str
    sign: float = 1.0
    scale: float = 1.0
    radians: bool = False


def _unit_scale(name: str) -> float:
    """Multiplier to ohm or hertz from the unit written in a column name."""
    match = re.search(rf"(?<![A-Za-z])([kmMGµu]?)(?:{_OHM})", name)
    if match:
        return {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "µ": 1e-6, "u": 1e-6}[match.group(1)]
    match = re.search(r"(?<![A-Za-z])([kmM]?)(?:Hz|hz|HZ)", name)
    if match:
        return {"": 1.0, "k": 1e3, "M": 1e6, "m": 1e-3}[match.group(1)]
    return 1.0


def unquote(text: str) -> str:
    """Text without surrounding whitespace and one pair of matching quotes."""
    text = text.strip()
    for quote in ('"', "'"):
        if len(text) >= 2 and text[0] == quote and text[-1] == quote:
            return text[1:-1].strip()
    return text


def column_base(name: str) -> str:
    """Column name without quotes, units, spaces and underscores, lower-cased."""
    base = unquote(name)
    for _ in range(2):
        match = _UNIT_GROUP.search(base)
        if not match:
            break
        unit = next(g for g in match.groups() if g is not None)
        if not _UNIT_WORD.match(unit):
            break
        base = base[: match.start()]
    base = base.replace("’", "'").replace("″", "''").replace("−", "-")
    return re.sub(r"[\s_]+", "", base).lower()


# Base names (see column_base) of every naming a maintained reader or an
# instrument export is known to use: EC-Lab ``freq/Hz``, ``Re(Z)/Ohm``,
# ``-Im(Z)/Ohm``; Nova ``Z' (Ω)``, ``-Z'' (Ω)``; ZPlot ``Z'(a)``; Gamry
# ``Zreal``/``Zimag``/``Zmod``/``Zphz``; VersaStudio ``Z Real``; impedance
# analysers' series-equivalent ``Zs'``/``Zs''``; generic ``Z_real``, ``Zre``,
# ``Re Z`` ... Units may follow in brackets, parentheses or after a slash.
_FREQ = {"freq", "frequency", "f", "freq.", "frequencyhz", "fhz", "freqhz"}
_REAL = {
    "z'", "zre", "zreal", "re(z)", "rez", "zr", "z'(a)", "realz", "zrealohm", "real", "re",
    "zs'", "re(zs)", "realpart", "zrealpart", "rezohm", "zreohm",
}
_IMAG = {
    "z''", 'z"', "zim", "zimag", "zimg", "im(z)", "imz", "zi", "z''(b)", "imagz", "imag", "im",
    "zimagohm", "zimaginary", "zs''", 'zs"', "im(zs)", "imaginarypart", "zimagpart", "imzohm", "zimohm",
}
_MOD = {"|z|", "zmod", "mod(z)", "z", "modz", "|z|mod", "zmag", "zmodulus", "magnitude", "abs(z)", "zabs", "|z|ohm"}
_PHASE = {"phase", "phase(z)", "zphz", "zphase", "phasez", "theta", "phi", "phaseangle", "θ", "φ", "phase(z)deg"}


def classify_column(name: str) -> ColumnRole | None:
    """Role of a column from its header name, or None when it is not needed.

    Handles ``-Z''`` / ``-Im(Z)`` (sign undone), Ω / kΩ / mΩ scales and phase
    in degrees unless the unit says radians.
    """
    base = column_base(name)
    sign = 1.0
    if base.startswith("-"):
        sign, base = -1.0, base[1:]
    scale = _unit_scale(name)
    if base in _FREQ:
        return ColumnRole("freq", 1.0, scale)
    if base in _REAL:
        return ColumnRole("real", sign, scale)
    if base in _IMAG:
        return ColumnRole("imag", sign, scale)
    if base in _MOD:
        return ColumnRole("mod", 1.0, scale)
    if base in _PHASE:
        return ColumnRole("phase", sign, 1.0, radians="rad" in name.lower())
    return None


def find_roles(names: Sequence[str]) -> dict[str, tuple[int, ColumnRole]]:
    """First column of each role among ``names``."""
    roles: dict[str, tuple[int, ColumnRole]] = {}
    for position, name in enumerate(names):
        role = classify_column(name)
        if role is not None and role.kind not in roles:
            roles[role.kind] = (position, role)
    return roles


def has_spectrum_columns(names: Sequence[str]) -> bool:
    """Whether column names give a frequency and either Z'/Z'' or |Z|/phase."""
    roles = find_roles(names)
    return "freq" in roles and (("real" in roles and "imag" in roles) or ("mod" in roles and "phase" in roles))


def require_roles(
    roles: dict[str, tuple[int, ColumnRole]], ctx: Context, *, line: int | None, expected_freq: str = "a frequency column"
) -> str:
    """Check the header gives frequency and either Z'/Z'' or |Z|/phase; returns 'cartesian' or 'polar'."""
    if "freq" not in roles:
        raise ctx.error(f"no frequency column (expected {expected_freq})", line=line, field="frequency")
    if "real" in roles and "imag" in roles:
        return "cartesian"
    if "mod" in roles and "phase" in roles:
        return "polar"
    if "real" in roles:
        raise ctx.error("no imaginary-impedance column (expected Z'' or Im(Z))", line=line, field="z_imag")
    if "imag" in roles:
        raise ctx.error("no real-impedance column (expected Z' or Re(Z))", line=line, field="z_real")
    raise ctx.error("no impedance columns (expected Z'/Z'' or |Z|/phase)", line=line, field="impedance")
