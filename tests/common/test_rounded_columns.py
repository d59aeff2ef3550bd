"""`rounded_columns` (the exports' rounding, a column at a time with numpy) gives exactly what `rounded_row` and
`round_to_uncertainty` give row by row: same floats, same types, same keys, on values chosen to hit its edges."""
import math
import random
from decimal import Decimal, InvalidOperation

import pytest

from apps.common.rounding import (
    BOUND,
    VALUE,
    round_to_uncertainty,
    round_to_uncertainty_many,
    round_uncertainty,
    round_uncertainty_many,
    rounded_columns,
    rounded_row,
)

SPECIAL = [None, math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e-300, 1e300, 3, True, Decimal("0.125"), "n/a",
           2.675, 0.125, 0.5, 1e22, 1e16, 9.95e-5, 0.0001]


def _number(rng: random.Random):
    """A float from one of the families where a column rule could part from the scalar one."""
    family = rng.random()
    sign = rng.choice([1, -1])
    if family < 0.3:  # any magnitude
        return sign * 10 ** rng.uniform(-15, 15)
    if family < 0.5:  # short decimals, many of them exact ties at some place (…5)
        digits = f"{rng.randint(0, 10 ** rng.randint(1, 6))}{rng.choice(['', '5'])}"
        return sign * float(f"{digits}e-{rng.randint(0, 12)}")
    if family < 0.6:  # powers of ten and their neighbours (the exponent of an uncertainty)
        x = float(f"1e{rng.randint(-20, 20)}")
        return rng.choice([x, math.nextafter(x, 0), math.nextafter(x, math.inf)])
    if family < 0.7:  # 9.95·10^k and neighbours (the uncertainty's rounding carries into a new digit)
        x = float(f"9.95e{rng.randint(-20, 20)}")
        return rng.choice([x, math.nextafter(x, 0), math.nextafter(x, math.inf)])
    if family < 0.75:
        return rng.choice(SPECIAL)
    return rng.uniform(-1000, 1000)


def _pairs(n: int, seed: int) -> tuple[list, list]:
    rng = random.Random(seed)
    values, uncertainties = [], []
    while len(values) < n:
        v, u = _number(rng), _number(rng)
        if rng.random() < 0.4 and isinstance(v, float) and math.isfinite(v) and v:
            u = abs(v) * 10 ** rng.uniform(-8, 1)  # an uncertainty of the value's own size, as measured
        try:  # the scalar rule refuses a few (a value 10^300 times its uncertainty): not export material
            round_to_uncertainty(v, u, bound=True)
            round_to_uncertainty(v, u)
        except InvalidOperation:
            continue
        values.append(v)
        uncertainties.append(u)
    return values, uncertainties


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("bound", [False, True])
def test_round_to_uncertainty_many_equals_the_scalar_rule(bound):
    values, uncertainties = _pairs(30_000, seed=13)
    many = round_to_uncertainty_many(values, uncertainties, bound=bound)
    mismatches = [(v, u, m) for v, u, m in zip(values, uncertainties, many)
                  if not _same(round_to_uncertainty(v, u, bound=bound), m)]
    assert mismatches == []


def test_round_uncertainty_many_equals_the_scalar_rule():
    _, uncertainties = _pairs(30_000, seed=7)
    many = round_uncertainty_many(uncertainties)
    assert [u for u, m in zip(uncertainties, many) if not _same(round_uncertainty(u), m)] == []


def test_ties_round_half_up_on_the_decimal_written_not_the_binary_value():
    # 2.675 is 2.67499999… in binary, 0.125 exact: both are ties in decimal and round up, as on the pages
    # (an uncertainty of 0.10 rounds to two decimals)
    assert round_to_uncertainty_many([2.675, 0.125, -0.125], [0.1, 0.1, 0.1]) == [2.68, 0.13, -0.13]


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    values, uncertainties = _pairs(4 * n, seed)
    rows = []
    for i in range(n):
        keys = rng.sample(["R0", "R1", "Q1", "n1"], rng.randint(0, 4))
        parameters = {key: values[4 * i + j] for j, key in enumerate(keys)}
        stderr = {key: uncertainties[4 * i + j] for j, key in enumerate(keys) if rng.random() < 0.9}
        rows.append({
            "id": i,
            "value": values[4 * i], "stderr": uncertainties[4 * i],
            "ci_low": values[4 * i + 1], "ci_high": values[4 * i + 2],
            # a fit's parameters rounded to their standard errors key by key; sometimes a number or None instead
            "parameters": rng.choice([parameters, parameters, None, values[4 * i + 3]]),
            "parameter_stderr": rng.choice([stderr, stderr, None, uncertainties[4 * i + 3]]),
        })
    return rows


@pytest.mark.parametrize(
    "uncertainties",
    [
        {"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}},
        {"parameter_stderr": {"parameters": VALUE}, "stderr": {"value": VALUE, "missing_column": VALUE}},
        {"missing_stderr": {"value": VALUE}},  # `rounded_row` adds the uncertainty column, empty
        {"stderr": {"value": VALUE}, "value": {"ci_low": BOUND}},  # a column named twice: row by row
    ],
)
def test_rounded_columns_equals_rounded_row_row_by_row(uncertainties):
    rows, expected = [], []
    for row in _rows(3_000, seed=len(str(uncertainties))):
        try:  # values paired here with another's uncertainty may be ones the scalar rule refuses
            expected.append(rounded_row(row, uncertainties))
        except InvalidOperation:
            continue
        rows.append(row)
    columns = rounded_columns({name: [row[name] for row in rows] for name in rows[0]}, uncertainties)
    assert list(columns) == list(expected[0])
    got = [dict(zip(columns, values)) for values in zip(*columns.values())]
    assert [i for i, (a, b) in enumerate(zip(expected, got)) if not _same(a, b)] == []
