"""How a number is shown to a researcher: one rule for pages, plot hover text and CSV column titles.

Pure Python (no Django), so templates, plots and exports share it.

The rule
--------
* A value with an uncertainty is rounded to the uncertainty: the uncertainty to two significant
  digits, the value to the same decimal place (``0.000451 ± 0.0000142 S/cm`` → ``0.451 ± 0.014 mS/cm``).
* A value without an uncertainty keeps three significant digits, trailing zeros dropped
  (``3000 Hz`` → ``3 kHz``). A zero uncertainty is not printed as ``± 0.000``: the value is shown
  alone with four significant digits, unless the caller says the value is exact (then ``± 0``).
  A non-finite uncertainty is said in words.
* Each quantity has a fixed display unit (σ in mS/cm, ASR in Ω·cm², Ea in eV, thickness in µm …)
  or a base unit with SI prefixes chosen from the magnitude (R in Ω/kΩ/MΩ, C in nF/µF, f in Hz/kHz).
  A fixed-unit value too small or too large for plain decimals is written ``1.2 × 10⁻⁶ mS/cm``.
* The unit is always shown; a missing or non-finite value is ``—``.

Files (CSV/JSON exports, release archives) keep numbers as numbers in their stored unit, rounded the same way:
`round_to_uncertainty`, `round_uncertainty` and `rounded_row`; a value without an uncertainty keeps full precision.
Exports round whole columns at once with `rounded_columns`, which gives the same numbers with numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

MISSING = "—"
PLUS_MINUS = " ± "
UNCERTAINTY_DIGITS = 2
DEFAULT_DIGITS = 3
UNCERTAIN_ZERO_DIGITS = 4
#: Plain decimals for a fixed-unit value in [10⁻³, 10⁶); outside, a power of ten is factored out.
PLAIN_MIN_EXPONENT = -3
PLAIN_MAX_EXPONENT = 6

SI_PREFIXES: dict[int, str] = {
    -15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T",
}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Quantity:
    """How one quantity is displayed.

    `stored_unit` is the unit of the numbers handed in (the model field's unit); `unit` the one shown.
    `scale` converts: shown = stored × scale. `prefixes` (exponents of ten) makes `unit` a base unit
    that takes an SI prefix chosen from the magnitude; without it the display unit is fixed.
    """

    title: str
    symbol: str
    unit: str
    stored_unit: str
    scale: float = 1.0
    prefixes: tuple[int, ...] = ()

    def column(self) -> str:
        """A CSV/table column title with its unit, e.g. ``σ (mS/cm)``; prefixed units name their base unit."""
        return f"{self.symbol} ({self.unit})"


QUANTITIES: dict[str, Quantity] = {
    "conductivity": Quantity("Conductivity", "σ", "mS/cm", "S/cm", scale=1e3),
    # σe of mixed conductors spans 10⁻¹²–10⁻⁶ S/cm and is reported in S/cm with a power of ten.
    "electronic_conductivity": Quantity("Electronic conductivity", "σe", "S/cm", "S/cm"),
    "asr": Quantity("Area-specific resistance", "ASR", "Ω·cm²", "Ω·cm²"),
    "asr_per_cycle": Quantity("ASR growth per cycle", "dASR/dN", "Ω·cm²/cycle", "Ω·cm²/cycle"),
    "asr_per_hour": Quantity("ASR growth per hour", "dASR/dt", "Ω·cm²/h", "Ω·cm²/h"),
    "activation_energy": Quantity("Activation energy", "Ea", "eV", "eV"),
    "current_density": Quantity("Current density", "j", "mA/cm²", "mA/cm²"),
    "resistance": Quantity("Resistance", "R", "Ω", "Ω", prefixes=(0, 3, 6, 9)),  # leads: 0.75 Ω, not 750 mΩ
    "capacitance": Quantity("Capacitance", "C", "F", "F", prefixes=(-15, -12, -9, -6, -3, 0)),
    "capacitance_per_length": Quantity("Normalised capacitance", "C'", "F/cm", "F/cm", prefixes=(-15, -12, -9, -6, -3, 0)),
    "frequency": Quantity("Frequency", "f", "Hz", "Hz", prefixes=(-6, -3, 0, 3, 6, 9)),
    "time_constant": Quantity("Time constant", "τ", "s", "s", prefixes=(-9, -6, -3, 0)),
    "thickness": Quantity("Thickness", "L", "µm", "µm"),
    "thickness_nm": Quantity("Thickness", "L", "nm", "nm"),
    "area": Quantity("Area", "A", "cm²", "cm²"),
    "pressure": Quantity("Pressure", "p", "MPa", "MPa"),
    "temperature": Quantity("Temperature", "T", "°C", "°C"),
    "temperature_k": Quantity("Temperature", "T", "K", "K"),
    "duration_min": Quantity("Duration", "t", "min", "min"),
    "duration_h": Quantity("Duration", "t", "h", "h"),
    "voltage": Quantity("Voltage", "U", "V", "V", prefixes=(-6, -3, 0)),
    "current": Quantity("Current", "I", "A", "A", prefixes=(-15, -12, -9, -6, -3, 0)),
    "areal_capacity": Quantity("Areal capacity", "Q", "mAh/cm²", "mAh/cm²"),
    "percent": Quantity("Fraction", "", "%", "%"),
}

#: The unit strings stored beside numbers (e.g. `BenchmarkEntry.unit`) → their quantity.
QUANTITY_OF_UNIT: dict[str, str] = {
    "S/cm": "conductivity",
    "Ω·cm²": "asr",
    "Ω·cm²/cycle": "asr_per_cycle",
    "Ω·cm²/h": "asr_per_hour",
    "eV": "activation_energy",
    "mA/cm²": "current_density",
    "Ω": "resistance",
    "F": "capacitance",
    "Hz": "frequency",
    "µm": "thickness",
    "MPa": "pressure",
    "°C": "temperature",
}


def quantity(name: str) -> Quantity:
    """The display rule of `name`; a name not in `QUANTITIES` is a programming error and says so."""
    try:
        return QUANTITIES[name]
    except KeyError:
        raise KeyError(f"unknown quantity {name!r}; known: {', '.join(sorted(QUANTITIES))}") from None


def quantity_for_unit(unit: str) -> str | None:
    """The quantity whose stored unit is `unit` (``"S/cm"`` → ``"conductivity"``), None if there is none."""
    return QUANTITY_OF_UNIT.get(unit)


def _finite(x) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _exponent(x: float) -> int:
    """Power of ten of the leading digit of x ≠ 0 (exact at powers of ten, unlike floor(log10))."""
    return Decimal(repr(abs(x))).adjusted()


def _fixed(x: float, decimals: int) -> str:
    """x rounded half-up to `decimals` places (negative: to tens, hundreds …), no exponent, no "-0"."""
    text = format(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP), "f")
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text


def _rounded(x: float, digits: int) -> tuple[str, int]:
    """(text, decimals) of x ≠ 0 to `digits` significant digits; a carry (9.996 → 10.0) keeps the count."""
    decimals = digits - 1 - _exponent(x)
    text = _fixed(x, decimals)
    if float(text) and _exponent(float(text)) != _exponent(x):
        decimals -= 1
        text = _fixed(x, decimals)
    return text, decimals


def _significant(x: float, digits: int) -> str:
    """x to `digits` significant digits, trailing zeros after the point dropped."""
    if x == 0:
        return "0"
    text, _ = _rounded(x, digits)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pair(value: float, uncertainty: float) -> tuple[str, str]:
    """(value, uncertainty) texts: uncertainty to two significant digits, value to the same decimal place."""
    u_text, decimals = _rounded(uncertainty, UNCERTAINTY_DIGITS)
    return _fixed(value, decimals), u_text


def _prefix_exponent(magnitude: float, prefixes: tuple[int, ...]) -> int:
    """The engineering exponent (multiple of 3) for `magnitude`, clamped to the quantity's prefixes."""
    if magnitude == 0:
        return 0 if 0 in prefixes else prefixes[0]
    wanted = 3 * math.floor(_exponent(magnitude) / 3)
    return min(max(wanted, min(prefixes)), max(prefixes))


def _power_of_ten(exponent: int) -> str:
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _display_scale(q: Quantity, magnitude: float) -> tuple[str, int, str]:
    """(unit shown, exponent of ten divided out, " × 10ⁿ" text or "") for numbers of this magnitude."""
    if q.prefixes:
        exponent = _prefix_exponent(magnitude, q.prefixes)
        return SI_PREFIXES[exponent] + q.unit, exponent, ""
    if magnitude and not PLAIN_MIN_EXPONENT <= _exponent(magnitude) < PLAIN_MAX_EXPONENT:
        exponent = _exponent(magnitude)
        return q.unit, exponent, " × " + _power_of_ten(exponent)
    return q.unit, 0, ""


def split_quantity(value, uncertainty=None, quantity_name: str = "conductivity", *, exact: bool = False,
                   digits: int = DEFAULT_DIGITS) -> tuple[str, str]:
    """(number text, unit text) of a value (and uncertainty) in the quantity's stored unit.

    The number text is ``—`` and the unit empty when the value is missing or not finite.
    """
    return _split(quantity(quantity_name), value, uncertainty, exact=exact, digits=digits)


def _split(q: Quantity, value, uncertainty, *, exact: bool, digits: int) -> tuple[str, str]:
    v = _finite(value)
    if v is None:
        return MISSING, ""
    v *= q.scale
    u_raw = None if uncertainty is None else _finite(uncertainty)
    u_said = uncertainty is not None and u_raw is None  # NaN or ±inf: say so in words
    u = abs(u_raw) * q.scale if u_raw is not None else None

    unit, factor_exponent, power = _display_scale(q, max(abs(v), u or 0.0))
    v, u = v / 10**factor_exponent, (u / 10**factor_exponent if u is not None else None)

    if u is not None and u > 0:
        v_text, u_text = _pair(v, u)
        number = f"{v_text}{PLUS_MINUS}{u_text}"
        if power:
            number = f"({number}){power}"
        return number, unit
    if u is not None and u == 0 and exact:
        number = f"{_significant(v, digits)}{PLUS_MINUS}0"
        return (f"({number}){power}" if power else number), unit
    n = UNCERTAIN_ZERO_DIGITS if u == 0 else digits
    number = _significant(v, n) + power
    if u_said:
        number += " (uncertainty not determined)"
    return number, unit


def format_quantity(value, uncertainty=None, quantity: str = "conductivity", *, exact: bool = False,
                    digits: int = DEFAULT_DIGITS) -> str:
    """``"0.451 ± 0.014 mS/cm"``: a value in the quantity's stored unit, rounded to its uncertainty, with its unit.

    `value` and `uncertainty` are in `QUANTITIES[quantity].stored_unit` (S/cm for conductivity).
    None, NaN or ±inf as value → ``—``. `exact`: a zero uncertainty means the value is exact (``± 0``).
    `digits`: significant digits of a value shown without uncertainty.
    """
    return _joined(*split_quantity(value, uncertainty, quantity, exact=exact, digits=digits))


def _joined(number: str, unit: str) -> str:
    if number == MISSING:
        return MISSING
    if " (uncertainty" in number:
        plain, reason = number.split(" (", 1)
        return f"{plain} {unit} ({reason}".replace("  ", " ")
    return f"{number} {unit}".strip()


def format_unit_value(value, uncertainty=None, unit: str = "", **kwargs) -> str:
    """A value stored beside its unit string (e.g. a benchmark entry): formatted by that unit's quantity.

    A unit with no quantity in the table keeps three significant digits and the unit as given.
    """
    name = quantity_for_unit(unit)
    if name is not None:
        return format_quantity(value, uncertainty, name, **kwargs)
    as_given = Quantity(title="", symbol="", unit=unit, stored_unit=unit)
    return _joined(*_split(as_given, value, uncertainty, exact=kwargs.get("exact", False),
                           digits=kwargs.get("digits", DEFAULT_DIGITS)))


def _interval_split(q: Quantity, low, high, uncertainty) -> tuple[str, str]:
    lo, hi = _finite(low), _finite(high)
    if lo is None or hi is None:
        return MISSING, ""
    lo, hi = lo * q.scale, hi * q.scale
    u = _finite(uncertainty)
    u = abs(u) * q.scale if u else None
    unit, exponent, power = _display_scale(q, max(abs(lo), abs(hi)))
    lo, hi, u = lo / 10**exponent, hi / 10**exponent, (u / 10**exponent if u else None)
    texts = []
    for bound in (lo, hi):
        text = _fixed(bound, _rounded(u, UNCERTAINTY_DIGITS)[1]) if u else _significant(bound, DEFAULT_DIGITS)
        if bound and not float(text):  # a bound of a positive quantity never reads as zero
            text = _significant(bound, UNCERTAINTY_DIGITS)
        texts.append(text)
    number = f"{texts[0]} – {texts[1]}"
    return (f"({number}){power}" if power else number), unit


def format_interval(low, high, uncertainty=None, unit: str = "") -> str:
    """``"0.42 – 0.48 mS/cm"``: an interval's bounds (stored beside their unit string, like a benchmark entry),
    in the unit the value is shown in, to the decimal place of the value's uncertainty (its two significant
    digits), so the bounds are as precise as the value beside them. A positive bound that would round to
    zero keeps two significant digits. ``—`` when a bound is missing."""
    name = quantity_for_unit(unit)
    q = quantity(name) if name is not None else Quantity(title="", symbol="", unit=unit, stored_unit=unit)
    return _joined(*_interval_split(q, low, high, uncertainty))


def format_number(value, digits: int = DEFAULT_DIGITS) -> str:
    """A dimensionless number with `digits` significant digits (no exponent for 10⁻³ ≤ |x| < 10⁶), or ``—``."""
    v = _finite(value)
    if v is None:
        return MISSING
    if v and not PLAIN_MIN_EXPONENT <= _exponent(v) < PLAIN_MAX_EXPONENT:
        e = _exponent(v)
        return f"{_significant(v / 10**e, digits)} × {_power_of_ten(e)}"
    return _significant(v, digits)


def column_title(quantity_name: str, what: str | None = None) -> str:
    """A column title with the display unit, e.g. ``"σ total (mS/cm)"``, for tables and CSV headers."""
    q = quantity(quantity_name)
    return f"{what or q.symbol} ({q.unit})"


def format_many(values, quantity: str, uncertainties=None) -> list[str]:
    """`format_quantity` over a sequence (plot hover text), uncertainties paired by position when given."""
    if uncertainties is None:
        return [format_quantity(v, None, quantity) for v in values]
    return [format_quantity(v, u, quantity) for v, u in zip(values, uncertainties, strict=True)]


#: Name endings that state a unit (STYLE.md: units in names) → the quantity they hold. Longest first.
QUANTITY_OF_SUFFIX: tuple[tuple[str, str], ...] = (
    ("_s_per_cm", "conductivity"),
    ("_ohm_cm2", "asr"),
    ("_ohm", "resistance"),
    ("_ev", "activation_energy"),
    ("_um", "thickness"),
    ("_nm", "thickness_nm"),
    ("_cm2", "area"),
    ("_mpa", "pressure"),
    ("_c", "temperature"),
    ("_k", "temperature_k"),
    ("_hz", "frequency"),
    ("_f", "capacitance"),
    ("_s", "time_constant"),
    ("_v", "voltage"),
    ("_a", "current"),
    ("_min", "duration_min"),
    ("_h", "duration_h"),
)


def quantity_of_name(name: str) -> tuple[str, str | None]:
    """(name without its unit ending, quantity) of a field name such as ``temperature_min_c``; quantity None if none."""
    for suffix, quantity_name in QUANTITY_OF_SUFFIX:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], quantity_name
    return name, None


def format_named_value(name: str, value) -> str:
    """A value stored under a unit-bearing name (``"temperature_min_c"``, 25.0 → ``"25 °C"``); lists item by item."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_named_value(name, v) for v in value) or MISSING
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: MISSING}[value]
    _, quantity_name = quantity_of_name(name)
    if isinstance(value, (int, float)):
        return format_quantity(value, None, quantity_name) if quantity_name else format_number(value)
    return str(value)


def name_title(name: str) -> str:
    """Words for a unit-bearing field name: ``"sigma_25c_s_per_cm"`` → ``"σ 25 °C"``, ``"spectrum_ids"`` → ``"Spectrum ids"``."""
    base, _ = quantity_of_name(name)
    words = base.replace("_", " ").strip()
    words = words.replace("sigma", "σ").replace("25c", "25 °C").replace(" min", " (lowest)").replace(" max", " (highest)")
    return words[:1].upper() + words[1:] if words[:1].isascii() else words


# ----------------------------------------------------------------------------- numbers for files (CSV/JSON)


def _rounded_float(x: float, decimals: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def round_to_uncertainty(value, uncertainty, *, bound: bool = False):
    """`value` as a number rounded half-up to the decimal place of the second significant digit of `uncertainty`
    (``0.00045123``, ``0.0000142`` → ``0.000451``): the page rule without units, for CSV and JSON files.

    `value` is returned unchanged when it is missing or not finite, and when the uncertainty is missing, zero or
    not finite (nothing to round to: full precision). `bound`: an interval bound of a positive quantity that would
    round to zero keeps two significant digits instead, as on pages.
    """
    v, u = _finite(value), _finite(uncertainty)
    if v is None or u is None or u == 0:
        return value
    decimals = _rounded(abs(u), UNCERTAINTY_DIGITS)[1]
    rounded = _rounded_float(v, decimals)
    if bound and v and not rounded:
        rounded = _rounded_float(v, UNCERTAINTY_DIGITS - 1 - _exponent(v))
    return rounded + 0.0  # no "-0.0"


def round_uncertainty(uncertainty):
    """An uncertainty to two significant digits as a number (``0.0000142`` → ``1.4e-05``); missing, zero or
    non-finite ones unchanged."""
    u = _finite(uncertainty)
    if u is None or u == 0:
        return uncertainty
    return _rounded_float(u, _rounded(abs(u), UNCERTAINTY_DIGITS)[1])


#: What `rounded_row` does with a column: round it as a value, or as an interval bound.
VALUE, BOUND = "value", "bound"


def rounded_row(row: dict, uncertainties: dict[str, dict[str, str]]) -> dict:
    """`row` (a CSV/JSON record) with each uncertainty column rounded to two significant digits and the columns
    that go with it (its value, interval bounds) rounded to the same decimal place; other columns as they are.

    `uncertainties`: uncertainty column → {column: VALUE or BOUND}, e.g.
    ``{"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}}``. When the uncertainty column holds a
    dict (a fit's ``stderr`` per parameter) its columns hold dicts too and are rounded key by key.
    A dotted name (``"electronic_conductivity.stderr_s_per_cm"``) reaches into a nested record; its columns
    are named inside that record. Rounding uses the full-precision uncertainty, so the result does not depend
    on the order of columns.
    """
    out = dict(row)
    for uncertainty_column, columns in uncertainties.items():
        if "." in uncertainty_column:
            head, rest = uncertainty_column.split(".", 1)
            if isinstance(out.get(head), dict):
                out[head] = rounded_row(out[head], {rest: columns})
            continue
        uncertainty = row.get(uncertainty_column)
        if isinstance(uncertainty, dict):
            for column in columns:
                if isinstance(row.get(column), dict):
                    out[column] = {key: round_to_uncertainty(v, uncertainty.get(key), bound=columns[column] == BOUND)
                                   for key, v in row[column].items()}
            out[uncertainty_column] = {key: round_uncertainty(u) for key, u in uncertainty.items()}
            continue
        for column, role in columns.items():
            if column in row:
                out[column] = round_to_uncertainty(row[column], uncertainty, bound=role == BOUND)
        out[uncertainty_column] = round_uncertainty(uncertainty)
    return out


# ----------------------------------------------------------------------------- whole columns at once (exports)
# The same numbers as `round_to_uncertainty` / `round_uncertainty`, computed with numpy where that is certain to be
# exact, and by the functions above for the few entries where it is not (ties, extreme exponents, non-floats).

_TABLE_MIN_EXPONENT, _TABLE_MAX_EXPONENT = -300, 300
#: float(10^k): x ≥ _POWERS_OF_TEN[k] exactly when repr(x) is ≥ 10^k, so a search gives `_exponent` exactly.
_POWERS_OF_TEN = np.array([float(f"1e{k}") for k in range(_TABLE_MIN_EXPONENT, _TABLE_MAX_EXPONENT + 1)])
#: float(9.95·10^k) (for two digits): from there the uncertainty's rounding carries into a new digit (9.95 → 10).
_CARRY_FROM = np.array([
    float(f"{Decimal(10) - Decimal(5).scaleb(-UNCERTAINTY_DIGITS)}e{k}")
    for k in range(_TABLE_MIN_EXPONENT, _TABLE_MAX_EXPONENT + 1)
])
#: 10^k for k ≤ 22, exact in binary.
_EXACT_POWERS_OF_TEN = np.array([float(10**k) for k in range(23)])
#: Bound on the relative error of |x|·10^k computed in floats against repr(x)·10^k (two roundings of 2⁻⁵³, doubled).
_SCALED_TOLERANCE = 1e-15


def _uncertainty_decimals(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the `decimals` of `_rounded(magnitude, UNCERTAINTY_DIGITS)`, mask of entries inside the tables) for
    magnitudes > 0; the tables make the exponent and the carry exact comparisons of floats."""
    index = np.searchsorted(_POWERS_OF_TEN, magnitude, side="right") - 1
    known = (index >= 0) & (index < len(_POWERS_OF_TEN) - 1)
    index = np.clip(index, 0, len(_POWERS_OF_TEN) - 1)
    carry = magnitude >= _CARRY_FROM[index]
    return UNCERTAINTY_DIGITS - 1 - (index + _TABLE_MIN_EXPONENT) - carry, known


def _half_up_many(x: np.ndarray, decimals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`_rounded_float(x, decimals)` per entry, mask of the entries where that result is certain).

    Certain when |decimals| ≤ 22 (10^k exact), |x|·10^decimals < 2⁵², and its fraction is not within float error
    of one half: then the integer is the one the half-up rounding of repr(x) gives, and one correctly rounded
    division (or multiplication) by 10^k is float() of that decimal, as `_rounded_float` returns."""
    k = np.abs(decimals)
    exact_power = k < len(_EXACT_POWERS_OF_TEN)
    power = _EXACT_POWERS_OF_TEN[np.where(exact_power, k, 0)]
    positive = decimals >= 0
    scaled = np.where(positive, x * power, x / power)
    magnitude = np.abs(scaled)
    whole = np.floor(magnitude)
    fraction = magnitude - whole  # exact
    rounded = np.copysign(whole + (fraction >= 0.5), scaled)  # ties away from zero, as ROUND_HALF_UP
    certain = exact_power & (magnitude < 2.0**52) & (np.abs(fraction - 0.5) > _SCALED_TOLERANCE * magnitude)
    return np.where(positive, rounded / power, rounded * power), certain


def _as_floats(values: list) -> np.ndarray:
    """The floats of `values`, NaN for anything else (None, ints, …: those are not rounded here)."""
    if _only_floats_or_none(values):
        return np.array(values, dtype=float)  # None → NaN
    return np.fromiter((x if type(x) is float else math.nan for x in values), float, len(values))


def _only_floats_or_none(values: list) -> bool:
    return set(map(type, values)) <= {float, type(None)}


def round_to_uncertainty_many(values: list, uncertainties: list, *, bound: bool = False) -> list:
    """[`round_to_uncertainty`(v, u, bound=bound) for v, u in zip(values, uncertainties)], per column."""
    out = list(values)
    with np.errstate(all="ignore"):
        v, u = _as_floats(values), _as_floats(uncertainties)
        rounds = np.isfinite(v) & np.isfinite(u) & (u != 0)  # other float/None pairs are returned unchanged
        decimals, known = _uncertainty_decimals(np.abs(u))
        rounded, certain = _half_up_many(v, decimals)
        certain &= known
        if bound:  # a bound that would round to zero keeps two significant digits: the scalar rule says how
            certain &= ~((v != 0) & (rounded == 0))
        rounded = rounded + 0.0  # no "-0.0"
    fast = rounds & certain
    for index, number in zip(np.flatnonzero(fast).tolist(), rounded[fast].tolist()):
        out[index] = number
    slow = rounds & ~certain
    if not (_only_floats_or_none(values) and _only_floats_or_none(uncertainties)):
        slow |= np.fromiter(
            (type(a) not in (float, type(None)) or type(b) not in (float, type(None))
             for a, b in zip(values, uncertainties)), bool, len(values),
        )
    for index in np.flatnonzero(slow).tolist():
        out[index] = round_to_uncertainty(values[index], uncertainties[index], bound=bound)
    return out


def round_uncertainty_many(uncertainties: list) -> list:
    """[`round_uncertainty`(u) for u in uncertainties], per column."""
    out = list(uncertainties)
    with np.errstate(all="ignore"):
        u = _as_floats(uncertainties)
        rounds = np.isfinite(u) & (u != 0)
        decimals, known = _uncertainty_decimals(np.abs(u))
        rounded, certain = _half_up_many(u, decimals)
        certain &= known
    fast = rounds & certain
    for index, number in zip(np.flatnonzero(fast).tolist(), rounded[fast].tolist()):
        out[index] = number
    slow = rounds & ~certain
    if not _only_floats_or_none(uncertainties):
        slow |= np.fromiter((type(x) not in (float, type(None)) for x in uncertainties), bool, len(uncertainties))
    for index in np.flatnonzero(slow).tolist():
        out[index] = round_uncertainty(uncertainties[index])
    return out


def _scattered(values: list, indices: list[int], computed: list) -> list:
    out = list(values)
    for index, value in zip(indices, computed):
        out[index] = value
    return out


def _round_dicts(dicts: list[dict], uncertainties: list[dict], *, bound: bool) -> list[dict]:
    """{key: round_to_uncertainty(v, u.get(key))} per (dict of values, dict of uncertainties), in one column pass."""
    values = [v for d in dicts for v in d.values()]
    paired = [u.get(key) for d, u in zip(dicts, uncertainties) for key in d]
    rounded = iter(round_to_uncertainty_many(values, paired, bound=bound))
    return [{key: next(rounded) for key in d} for d in dicts]


def _round_entry(columns: dict[str, list], out: dict[str, list], uncertainty_column: str, roles: dict[str, str]):
    """One entry of `rounded_row`'s `uncertainties` over whole columns: rows whose uncertainty is a number and rows
    whose uncertainty is a dict of them (one per key) each take their rule, as `rounded_row` does row by row."""
    uncertainty = columns[uncertainty_column]
    held = [i for i, u in enumerate(uncertainty) if isinstance(u, dict)]
    plain = [i for i, u in enumerate(uncertainty) if not isinstance(u, dict)] if held else None
    for column, role in roles.items():
        if column not in columns:
            continue
        values, bound = columns[column], role == BOUND
        if not held:
            out[column] = round_to_uncertainty_many(values, uncertainty, bound=bound)
            continue
        rounded = _scattered(values, plain, round_to_uncertainty_many(
            [values[i] for i in plain], [uncertainty[i] for i in plain], bound=bound))
        nested = [i for i in held if isinstance(values[i], dict)]  # a number beside a dict of uncertainties stays
        out[column] = _scattered(rounded, nested, _round_dicts(
            [values[i] for i in nested], [uncertainty[i] for i in nested], bound=bound))
    if not held:
        out[uncertainty_column] = round_uncertainty_many(uncertainty)
        return
    rounded = _scattered(uncertainty, plain, round_uncertainty_many([uncertainty[i] for i in plain]))
    flat = round_uncertainty_many([u for i in held for u in uncertainty[i].values()])
    position = iter(flat)
    out[uncertainty_column] = _scattered(rounded, held, [{key: next(position) for key in uncertainty[i]} for i in held])


def rounded_columns(columns: dict[str, list], uncertainties: dict[str, dict[str, str]]) -> dict[str, list]:
    """`rounded_row` over a table held as columns (name → values, all of one length): the same numbers, a column
    at a time. Nested records (dotted names) and columns named by two entries go row by row through
    `rounded_row` itself."""
    named = [name for uncertainty_column, roles in uncertainties.items() for name in (uncertainty_column, *roles)]
    if len(named) != len(set(named)) or any("." in name for name in uncertainties):
        names = list(columns)
        rows = [rounded_row(dict(zip(names, values)), uncertainties) for values in zip(*columns.values())]
        out_names = list(rows[0]) if rows else names
        return {name: [row[name] for row in rows] for name in out_names}
    out = dict(columns)
    length = len(next(iter(columns.values()), ()))
    for uncertainty_column, roles in uncertainties.items():
        if uncertainty_column in columns:
            _round_entry(columns, out, uncertainty_column, roles)
        else:  # as `rounded_row`: nothing to round to, and the column is added, empty
            out[uncertainty_column] = [None] * length
    return out
