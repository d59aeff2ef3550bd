"""Numbers for files (CSV/JSON exports, release archives, reproduce bundles): kept as numbers in their stored
unit, rounded by the page rule of `apps.common.formatting` (the uncertainty to two significant digits, the value
and its interval bounds to the same decimal place): `round_to_uncertainty`, `round_uncertainty` and
`rounded_row`; a value without an uncertainty keeps full precision. Exports round whole columns at once with
`rounded_columns`, which gives the same numbers with numpy.

Pure Python (no Django).
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from .formatting import UNCERTAINTY_DIGITS, _exponent, _finite, _rounded

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
