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

Files (CSV/JSON exports, release archives) keep numbers as numbers, rounded by the same rule: `apps.common.rounding`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


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
