"""Text exports as other software and locales write them: column names, units,
sign conventions, decimal commas and delimiters.

The files are generated from real spectra of the shared instrument files
(re-written with other headers and number conventions), so each variant is
checked against the values of the original file.
"""

import re

import numpy as np
import pytest

from apps.measurements.parsers import ParseError, parse
from apps.measurements.parsers.columns import classify_column
from apps.measurements.parsers.numeric import is_number
from parser_test_files import EXPECTED, INSTRUMENT_FILES, TEXT_LAYOUT, path, read

pytestmark = pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")


def _real():
    (spectrum,) = parse(path("exampleDataBioLogic.mpt"))
    return spectrum.frequencies_hz, spectrum.impedance_ohm


# (frequency header, first impedance header, second, how to write the pair from Z, Z scale in ohm)
CARTESIAN = [
    ("f [Hz]", "Zs'[ohm]", "Zs''[ohm]", lambda z: (z.real, z.imag)),
    ("Frequency (Hz)", "Zs' (Ohm)", "-Zs'' (Ohm)", lambda z: (z.real, -z.imag)),
    ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", lambda z: (z.real, -z.imag)),
    ("Freq", "Re(Z) [Ohm]", "Im(Z) [Ohm]", lambda z: (z.real, z.imag)),
    ("Frequency/Hz", "Z'/Ohm", "-Z''/Ohm", lambda z: (z.real, -z.imag)),
    ("Frequency (Hz)", "Z' (Ω)", "-Z'' (Ω)", lambda z: (z.real, -z.imag)),
    ("frequency", "Z' (\u2126)", "Z'' (\u2126)", lambda z: (z.real, z.imag)),
    ("f", "Z_real", "Z_imag", lambda z: (z.real, z.imag)),
    ("Freq (Hz)", "Z_real (ohm)", "-Z_imag (ohm)", lambda z: (z.real, -z.imag)),
    ("freq", "Zreal", "Zimag", lambda z: (z.real, z.imag)),
    ("Frequency [Hz]", "Zre [Ohm]", "-Zim [Ohm]", lambda z: (z.real, -z.imag)),
    ("Freq(Hz)", "Z'(a)", "Z''(b)", lambda z: (z.real, z.imag)),
    ("f/Hz", "Z Real", "Z Imag", lambda z: (z.real, z.imag)),
    ("frequency_hz", "z_real_ohm", "z_imag_ohm", lambda z: (z.real, z.imag)),
]
POLAR = [
    ("Frequency (Hz)", "|Z| (Ω)", "Phase (°)", lambda z: (np.abs(z), np.degrees(np.angle(z)))),
    ("freq/Hz", "|Z|/Ohm", "Phase(Z)/deg", lambda z: (np.abs(z), np.degrees(np.angle(z)))),
    ("Freq", "Zmod", "Zphz", lambda z: (np.abs(z), np.degrees(np.angle(z)))),
    ("Frequency (Hz)", "Z (Ω)", "-Phase (°)", lambda z: (np.abs(z), -np.degrees(np.angle(z)))),
    ("f [Hz]", "|Z| [ohm]", "theta [rad]", lambda z: (np.abs(z), np.angle(z))),
]
# (delimiter, decimal comma)
DIALECTS = [(",", False), (";", False), (";", True), ("\t", False), ("\t", True), (" ", True), (" ", False)]


def _cell(value, decimal_comma):
    text = repr(float(value))
    return text.replace(".", ",") if decimal_comma else text


def _write(header, columns, delimiter, decimal_comma):
    lines = [delimiter.join(header)]
    for row in zip(*columns):
        lines.append(delimiter.join(_cell(v, decimal_comma) for v in row))
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize(("delimiter", "decimal_comma"), DIALECTS)
@pytest.mark.parametrize("names", CARTESIAN, ids=lambda n: f"{n[1]}|{n[2]}")
def test_cartesian_names_in_every_dialect(names, delimiter, decimal_comma):
    f, z = _real()
    freq_name, a_name, b_name, write = names
    if delimiter == " ":
        freq_name, a_name, b_name = (n.replace(" ", "") for n in (freq_name, a_name, b_name))
    a, b = write(z)
    (spectrum,) = parse(_write([freq_name, a_name, b_name], [f, a, b], delimiter, decimal_comma), filename="v.txt")
    assert np.array_equal(spectrum.frequencies_hz, f)
    assert np.array_equal(spectrum.impedance_ohm, z)


@pytest.mark.parametrize(("delimiter", "decimal_comma"), [(",", False), (";", True), ("\t", True)])
@pytest.mark.parametrize("names", POLAR, ids=lambda n: f"{n[1]}|{n[2]}")
def test_modulus_and_phase_names(names, delimiter, decimal_comma):
    f, z = _real()
    freq_name, a_name, b_name, write = names
    a, b = write(z)
    (spectrum,) = parse(_write([freq_name, a_name, b_name], [f, a, b], delimiter, decimal_comma), filename="p.csv")
    np.testing.assert_allclose(spectrum.impedance_ohm.real, z.real, rtol=1e-12, atol=1e-12 * np.abs(z).max())
    np.testing.assert_allclose(spectrum.impedance_ohm.imag, z.imag, rtol=1e-12, atol=1e-12 * np.abs(z).max())


@pytest.mark.parametrize(
    ("name", "kind", "sign", "scale"),
    [
        ("Zs'[ohm]", "real", 1, 1), ("Zs''[ohm]", "imag", 1, 1), ("-Zs''[ohm]", "imag", -1, 1),
        ("Re(Z)/kOhm", "real", 1, 1e3), ("-Im(Z) (mΩ)", "imag", -1, 1e-3), ("Z' / Ohm", "real", 1, 1),
        ("\"Z'' (Ohm)\"", "imag", 1, 1), ("freq/kHz", "freq", 1, 1e3), ("f [Hz]", "freq", 1, 1),
        ("Frequency (Hz)", "freq", 1, 1), ("Phase(Z)/deg", "phase", 1, 1), ("|Z|/Ohm", "mod", 1, 1),
    ],
)
def test_one_classifier_reads_every_naming(name, kind, sign, scale):
    role = classify_column(name)
    assert (role.kind, role.sign, role.scale) == (kind, sign, scale)


@pytest.mark.parametrize("name", ["Re(Zce)/Ohm", "-Im(Zwe-ce)/Ohm", "time/s", "Ewe/V", "cycle number", "I/mA"])
def test_other_columns_are_not_taken_for_impedance(name):
    assert classify_column(name) is None


# ------------------------------------------------ every real text format, re-localised

def _relocalise(data: bytes, delimiter: str, new_delimiter: str) -> bytes:
    """Rows of numbers re-written with decimal commas and ``new_delimiter``, and so
    is the column-name line right above them; other lines kept."""
    lines = data.decode("latin-1").replace("\r\n", "\n").split("\n")
    out = list(lines)
    for i, line in enumerate(lines):
        cells = line.split(delimiter)
        numbers = [c for c in cells if c.strip()]
        if len(numbers) >= 2 and all(is_number(c) for c in numbers):
            out[i] = new_delimiter.join(c.replace(".", ",") for c in cells)
            j = i - 1
            while j > 0 and not lines[j].strip():
                j -= 1
            above = lines[j].split(delimiter) if j >= 0 else []
            if len(above) == len(cells) and not all(is_number(c) for c in above if c.strip()):
                out[j] = new_delimiter.join(above)
    return "\n".join(out).encode("latin-1")


def _same_spectra(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x.frequencies_hz, y.frequencies_hz)
        assert np.array_equal(x.impedance_ohm, y.impedance_ohm)
        assert x.format == y.format
        assert x.metadata == y.metadata


@pytest.mark.parametrize("name", sorted(TEXT_LAYOUT))
def test_every_text_format_reads_decimal_commas(name):
    delimiter, _ = TEXT_LAYOUT[name]
    new_delimiter = ";" if delimiter == "," else delimiter
    localised = _relocalise(read(name), delimiter, new_delimiter)
    assert localised != read(name)
    _same_spectra(parse(localised, filename=name), parse(read(name), filename=name))


def test_european_ec_lab_mpt():
    name = "exampleDataBioLogic.mpt"
    localised = _relocalise(read(name), "\t", "\t")
    assert b"1,0003201E+003" in localised
    (spectrum,) = parse(localised, filename=name)
    (original,) = parse(read(name))
    assert np.array_equal(spectrum.impedance_ohm, original.impedance_ohm)
    assert spectrum.metadata == original.metadata


def test_a_decimal_point_in_a_decimal_comma_file_is_named():
    name = "exampleDataBioLogic.mpt"
    lines = _relocalise(read(name), "\t", "\t").decode("latin-1").split("\n")
    cells = lines[70].split("\t")
    cells[1] = cells[1].replace(",", ".")
    lines[70] = "\t".join(cells)
    with pytest.raises(ParseError) as caught:
        parse("\n".join(lines).encode("latin-1"), filename=name)
    error = caught.value
    assert (error.line, error.field) == (71, "Re(Z)/Ohm")
    assert "decimal point" in error.reason and "decimal commas" in error.reason


def test_comma_delimited_file_with_decimal_points_is_not_taken_for_decimal_commas():
    f, z = _real()
    f, z = f[f >= 100], z[f >= 100]
    data = _write(["f", "Z'", "Z''"], [np.round(f), np.round(z.real), np.round(z.imag)], ",", False)
    data = re.sub(rb"\.0(?=[,\n])", b"", data)  # integers only: 1000,12,-3 could be read as decimals
    assert b"," in data and b"." not in data
    (spectrum,) = parse(data, filename="ints.csv")
    assert np.array_equal(spectrum.frequencies_hz, np.round(f))
    assert np.array_equal(spectrum.impedance_ohm.real, np.round(z.real))


def test_zs_headed_export_of_a_real_spectrum_with_semicolons_and_decimal_commas():
    f, z = _real()
    data = _write(["Freq [Hz]", "Zs'[ohm]", "Zs''[ohm]"], [f, z.real, z.imag], ";", True)
    (spectrum,) = parse(data, filename="analyser.csv")
    assert spectrum.format == "csv"
    assert np.array_equal(spectrum.impedance_ohm, z)
    assert len(spectrum) == EXPECTED["exampleDataBioLogic.mpt"][2]


def test_ec_lab_header_naming_columns_the_rows_leave_out():
    # EC-Lab 11.61 can end the header with an empty name and names of columns no row holds
    name = "exampleDataBioLogic.mpt"
    lines = read(name).decode("latin-1").split("\n")
    lines[60] = lines[60].rstrip("\r").rstrip("\t") + "\t\tEwe-Ece/V"
    (spectrum,) = parse("\n".join(lines).encode("latin-1"), filename=name)
    (original,) = parse(read(name))
    assert np.array_equal(spectrum.impedance_ohm, original.impedance_ohm)


def test_a_row_shorter_than_the_header_is_still_an_error():
    name = "exampleDataBioLogic.mpt"
    lines = read(name).decode("latin-1").split("\n")
    lines[60] = lines[60].rstrip("\r").rstrip("\t") + "\t\tEwe-Ece/V"
    lines[75] = "\t".join(lines[75].split("\t")[:5])
    with pytest.raises(ParseError) as caught:
        parse("\n".join(lines).encode("latin-1"), filename=name)
    assert caught.value.line == 76 and "truncated" in caught.value.reason
