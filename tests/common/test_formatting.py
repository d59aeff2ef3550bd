"""The one display rule for numbers: (value, uncertainty, quantity) → text."""
import math

import pytest

from apps.common.formatting import (
    QUANTITIES,
    column_title,
    format_interval,
    format_number,
    format_quantity,
    format_unit_value,
)
from apps.common.rounding import BOUND, VALUE, round_to_uncertainty, round_uncertainty, rounded_row

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("value", "uncertainty", "quantity", "expected"),
    [
        # rounded to the uncertainty, in the quantity's display unit
        (0.000451, 0.0000142, "conductivity", "0.451 ± 0.014 mS/cm"),
        (0.00045, 1.4e-06, "conductivity", "0.4500 ± 0.0014 mS/cm"),
        (1.2e-3, 5e-5, "conductivity", "1.200 ± 0.050 mS/cm"),
        (0.38, 0.02, "activation_energy", "0.380 ± 0.020 eV"),
        (0.3812, 0.0047, "activation_energy", "0.3812 ± 0.0047 eV"),
        (12.34, 0.567, "asr", "12.34 ± 0.57 Ω·cm²"),
        (1234.5, 56.7, "asr", "1235 ± 57 Ω·cm²"),
        (123456.0, 1234.0, "resistance", "123.5 ± 1.2 kΩ"),
        (2.2e-9, 1.3e-10, "capacitance", "2.20 ± 0.13 nF"),
        # uncertainty rounding carries into a new digit: still two significant digits
        (9.96, 0.0996, "asr", "9.96 ± 0.10 Ω·cm²"),
        # uncertainty larger than the value: the value is rounded to the uncertainty's place
        (0.5, 12.0, "asr", "1 ± 12 Ω·cm²"),
        (3.0, 4.5, "asr", "3.0 ± 4.5 Ω·cm²"),
        # huge uncertainty: the prefix follows the larger of the two
        (5.0, 20000.0, "resistance", "0 ± 20 kΩ"),
        # negative values and negative uncertainties (a sign convention, not a size)
        (-0.5, 0.12, "activation_energy", "-0.50 ± 0.12 eV"),
        (-0.004, 0.05, "asr", "-0.004 ± 0.050 Ω·cm²"),
        (2.0, -0.3, "asr", "2.00 ± 0.30 Ω·cm²"),
        # a value that rounds to zero is never "-0"
        (-0.0001, 0.05, "asr", "0.000 ± 0.050 Ω·cm²"),
        (0.0, 0.003, "asr", "0.0000 ± 0.0030 Ω·cm²"),
        # no uncertainty: three significant digits, no exponent, SI prefix where the quantity takes one
        (3000.0, None, "frequency", "3 kHz"),
        (0.01, None, "frequency", "10 mHz"),
        (1.0e7, None, "frequency", "10 MHz"),
        (1234567.0, None, "frequency", "1.23 MHz"),
        (4.7e-6, None, "capacitance", "4.7 µF"),
        (0.0, None, "resistance", "0 Ω"),
        (0.75, None, "resistance", "0.75 Ω"),
        (9.996, None, "asr", "10 Ω·cm²"),
        (800.0, None, "thickness", "800 µm"),
        (25.0, None, "temperature", "25 °C"),
        (-20.0, None, "temperature", "-20 °C"),
        (12.5, None, "pressure", "12.5 MPa"),
        # out of plain-decimal range in a fixed unit: a power of ten, not "1e-06"
        (1.0e-9, None, "conductivity", "1 × 10⁻⁶ mS/cm"),
        (1.23e-9, 4.5e-11, "conductivity", "(1.230 ± 0.045) × 10⁻⁶ mS/cm"),
        # zero uncertainty is not "± 0.000": the value alone with four digits
        (123.456, 0.0, "resistance", "123.5 Ω"),
        (5.0, 0.0, "asr", "5 Ω·cm²"),
        # non-finite uncertainty: said in words
        (1.0, NAN, "asr", "1 Ω·cm² (uncertainty not determined)"),
        (1.0, INF, "asr", "1 Ω·cm² (uncertainty not determined)"),
        # missing or non-finite value
        (None, None, "conductivity", "—"),
        (None, 0.1, "asr", "—"),
        (NAN, 1.0, "asr", "—"),
        (INF, None, "frequency", "—"),
        (-INF, 0.1, "asr", "—"),
        ("not a number", None, "asr", "—"),
    ],
)
def test_format_quantity(value, uncertainty, quantity, expected):
    assert format_quantity(value, uncertainty, quantity) == expected


def test_zero_uncertainty_of_an_exact_value_is_said():
    assert format_quantity(5.0, 0.0, "asr", exact=True) == "5 ± 0 Ω·cm²"


@pytest.mark.parametrize(
    ("value", "uncertainty", "unit", "expected"),
    [
        (4.51e-4, 1.42e-5, "S/cm", "0.451 ± 0.014 mS/cm"),
        (35.0, 2.0, "Ω·cm²", "35.0 ± 2.0 Ω·cm²"),
        (0.8, None, "mA/cm²", "0.8 mA/cm²"),
        (1.5e-3, 2e-5, "F·s^(n-1)", "0.001500 ± 0.000020 F·s^(n-1)"),
        (2.25e-8, 6.2e-9, "F·s^(n-1)", "(2.25 ± 0.62) × 10⁻⁸ F·s^(n-1)"),
        (1.4974e-6, None, "F·s^(n-1)", "1.5 × 10⁻⁶ F·s^(n-1)"),
        (0.91, None, "", "0.91"),
        (NAN, None, "Ω", "—"),
    ],
)
def test_format_unit_value_uses_the_units_quantity(value, uncertainty, unit, expected):
    assert format_unit_value(value, uncertainty, unit) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.8543, "0.854"), (3e3, "3000"), (2.5e-7, "2.5 × 10⁻⁷"), (None, "—"), (NAN, "—")]
)
def test_format_number(value, expected):
    assert format_number(value) == expected


def test_every_quantity_has_a_unit_and_a_column_title():
    for name, q in QUANTITIES.items():
        assert q.unit, name
        assert column_title(name).endswith(f"({q.unit})")


@pytest.mark.parametrize(
    ("name", "value", "title", "text"),
    [
        ("temperature_min_c", 25.0, "Temperature (lowest)", "25 °C"),
        ("sigma_25c_s_per_cm", 4.51e-4, "σ 25 °C", "0.451 mS/cm"),
        ("resistance_ohm", 1234.5, "Resistance", "1.23 kΩ"),
        ("voltages_v", [0.1, 0.25], "Voltages", "100 mV, 250 mV"),
        ("r_squared", 0.99871, "R squared", "0.999"),
        ("arrhenius_form", "vtf", "Arrhenius form", "vtf"),
        ("extrapolated", True, "Extrapolated", "yes"),
        ("n_spectra", 4, "N spectra", "4"),
    ],
)
def test_unit_bearing_names_are_titled_and_formatted(name, value, title, text):
    from apps.common.formatting import format_named_value, name_title

    assert name_title(name) == title
    assert format_named_value(name, value) == text


@pytest.mark.parametrize("low, high, stderr, unit, expected", [
    # Bounds to the decimal place of the value's uncertainty (two significant digits), in the value's unit.
    (0.39950, 0.40170, 0.00050, "eV", "0.39950 – 0.40170 eV"),
    (3.1e-4, 4.2e-4, 2.8e-5, "S/cm", "0.310 – 0.420 mS/cm"),
    (8.0, 12.0, None, "Ω·cm²", "8 – 12 Ω·cm²"),  # no uncertainty: three significant digits
    # A positive lower bound never reads as zero: it keeps two significant digits.
    (2e-8, 2e-3, 5e-4, "S/cm", "0.00002 – 2.00 mS/cm"),
    (None, 1.0, 0.1, "eV", "—"),
])
def test_interval_bounds_are_rounded_to_the_uncertainty(low, high, stderr, unit, expected):
    assert format_interval(low, high, stderr, unit) == expected


def test_interval_and_value_share_their_decimal_place():
    value = format_unit_value(0.40060, 0.00050, "eV")
    assert value == "0.40060 ± 0.00050 eV"
    assert format_interval(0.39962, 0.40158, 0.00050, "eV") == "0.39962 – 0.40158 eV"


# ----------------------------------------------------------------------------- numbers in files


@pytest.mark.parametrize(
    ("value", "uncertainty", "expected_value", "expected_uncertainty"),
    [
        (0.00045123, 0.0000142, 0.000451, 1.4e-05),  # the page's 0.451 ± 0.014 mS/cm, in S/cm
        (0.3812, 0.0047, 0.3812, 0.0047),
        (0.38124, 0.02, 0.381, 0.02),
        (1234.5, 56.7, 1235.0, 57.0),
        (123456.0, 1234.0, 123500.0, 1200.0),  # to hundreds
        (1.23456, 0.0996, 1.23, 0.1),  # 0.0996 → "0.10": the carry keeps two digits' place
        (-0.00012, 0.03, 0.0, 0.03),  # no "-0.0"
        (2.675, 0.12, 2.68, 0.12),  # half-up on the decimal text, not the binary float
        (1e-9, -1.3e-10, 1e-9, -1.3e-10),  # the magnitude of a (signed) error is what rounds
        (5.123456, 0.0, 5.123456, 0.0),  # zero uncertainty: nothing to round to
        (5.123456, None, 5.123456, None),
        (5.123456, NAN, 5.123456, None),
        (None, 0.1, None, 0.1),
    ],
)
def test_round_to_uncertainty_keeps_two_significant_digits_of_the_uncertainty(
    value, uncertainty, expected_value, expected_uncertainty
):
    rounded = round_to_uncertainty(value, uncertainty)
    assert rounded == expected_value and repr(rounded) == repr(expected_value)
    if expected_uncertainty is None and uncertainty is not None:
        assert math.isnan(round_uncertainty(uncertainty))
    else:
        assert round_uncertainty(uncertainty) == expected_uncertainty


def test_file_rounding_matches_the_page_text():
    for value, uncertainty, quantity_name in [(0.00045123, 0.0000142, "conductivity"), (12.3456, 0.567, "asr"),
                                              (0.41234, 0.0123, "activation_energy")]:
        q = QUANTITIES[quantity_name]
        v, u = round_to_uncertainty(value, uncertainty), round_uncertainty(uncertainty)
        page_value, page_uncertainty = format_quantity(value, uncertainty, quantity_name).split(" ")[0:3:2]
        assert float(page_value) == pytest.approx(v * q.scale, rel=1e-12)
        assert float(page_uncertainty) == pytest.approx(u * q.scale, rel=1e-12)


def test_a_bound_that_would_round_to_zero_keeps_two_significant_digits():
    assert round_to_uncertainty(0.00031, 0.02, bound=True) == 0.00031
    assert round_to_uncertainty(0.00031, 0.02) == 0.0


@pytest.mark.parametrize(
    ("row", "uncertainties", "expected"),
    [
        ({"value": 0.41234, "stderr": 0.0123, "ci_low": 0.38712, "ci_high": 0.43756, "temperature_c": 25.123456},
         {"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}},
         {"value": 0.412, "stderr": 0.012, "ci_low": 0.387, "ci_high": 0.438, "temperature_c": 25.123456}),
        ({"value": 0.41234, "stderr": None, "ci_low": 0.38712, "ci_high": 0.43756},
         {"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}},
         {"value": 0.41234, "stderr": None, "ci_low": 0.38712, "ci_high": 0.43756}),
        ({"parameters": {"R0": 10.2345, "n": 0.91234}, "stderr": {"R0": 0.1234, "n": None}},
         {"stderr": {"parameters": VALUE}},
         {"parameters": {"R0": 10.23, "n": 0.91234}, "stderr": {"R0": 0.12, "n": None}}),
        ({"id": 3, "sigma_e": {"value_s_per_cm": 1.23456e-9, "stderr_s_per_cm": 4.567e-11}},
         {"sigma_e.stderr_s_per_cm": {"value_s_per_cm": VALUE}},
         {"id": 3, "sigma_e": {"value_s_per_cm": 1.235e-9, "stderr_s_per_cm": 4.6e-11}}),
        ({"id": 3, "sigma_e": None}, {"sigma_e.stderr_s_per_cm": {"value_s_per_cm": VALUE}}, {"id": 3, "sigma_e": None}),
    ],
)
def test_rounded_row_rounds_the_columns_that_go_with_an_uncertainty(row, uncertainties, expected):
    assert rounded_row(row, uncertainties) == expected
