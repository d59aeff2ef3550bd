"""Generic delimited tables: header detection, units, sign conventions, splitting, duplicates."""

import numpy as np
import pytest

from apps.measurements.parsers import ParseError, detect_format, parse
from parser_test_files import INSTRUMENT_FILES, read

F = [1000.0, 100.0, 10.0, 1.0, 0.1]
ZR = [10.0, 11.0, 15.0, 20.0, 30.0]
ZI = [-1.0, -2.0, -5.0, -8.0, -9.0]


def _table(header, rows, delimiter=","):
    lines = [header] if header is not None else []
    lines += [delimiter.join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _one(data, name="table.csv"):
    (spectrum,) = parse(data, filename=name)
    return spectrum


def test_columns_found_by_header_name_in_any_order():
    s = _one(_table("Z'' (Ω),Frequency (Hz),Z' (Ω)", zip(ZI, F, ZR)))
    assert np.array_equal(s.frequencies_hz, F)
    assert np.array_equal(s.impedance_ohm, np.array(ZR) + 1j * np.array(ZI))


def test_minus_z_double_prime_column_sign_is_undone():
    s = _one(_table("freq,Z',-Z''", zip(F, ZR, [-v for v in ZI])))
    assert np.array_equal(s.impedance_ohm.imag, ZI)


@pytest.mark.parametrize(("unit", "factor"), [("kΩ", 1e3), ("kohm", 1e3), ("mΩ", 1e-3), ("MOhm", 1e6), ("Ω", 1.0)])
def test_impedance_unit_in_header_scales_values(unit, factor):
    s = _one(_table(f"f (Hz),Zre ({unit}),Zim ({unit})", zip(F, ZR, ZI)))
    np.testing.assert_allclose(s.impedance_ohm.real, np.array(ZR) * factor, rtol=1e-15)
    np.testing.assert_allclose(s.impedance_ohm.imag, np.array(ZI) * factor, rtol=1e-15)


def test_khz_frequency_unit_scales():
    s = _one(_table("Freq/kHz\tRe(Z)/Ohm\tIm(Z)/Ohm", zip(F, ZR, ZI), "\t"))
    np.testing.assert_allclose(s.frequencies_hz, np.array(F) * 1e3)


def test_modulus_and_phase_in_degrees():
    modulus = np.abs(np.array(ZR) + 1j * np.array(ZI))
    phase = np.degrees(np.angle(np.array(ZR) + 1j * np.array(ZI)))
    s = _one(_table("Frequency (Hz);|Z| (Ω);Phase (°)", zip(F, modulus, phase), ";"))
    np.testing.assert_allclose(s.impedance_ohm.real, ZR, rtol=1e-12)
    np.testing.assert_allclose(s.impedance_ohm.imag, ZI, rtol=1e-12)


def test_nova_style_minus_phase_is_undone():
    z = np.array(ZR) + 1j * np.array(ZI)
    rows = zip(F, z.real, -z.imag, np.abs(z), -np.degrees(np.angle(z)))
    data = _table("Frequency (Hz);Z' (Ω);-Z'' (Ω);Z (Ω);-Phase (°)", rows, ";")
    assert detect_format(data) == "autolab-nova"
    np.testing.assert_allclose(_one(data).impedance_ohm, z, rtol=1e-12)


def test_semicolon_with_decimal_comma():
    rows = [[str(v).replace(".", ",") for v in row] for row in zip(F, ZR, ZI)]
    s = _one(_table("frequency;Z';Z''", rows, ";"))
    assert np.array_equal(s.frequencies_hz, F)
    assert np.array_equal(s.impedance_ohm.imag, ZI)


def test_whitespace_separated_with_multiword_header():
    lines = ["Freq (Hz)   Z' (Ohm)   Z'' (Ohm)"] + [f"{f:g}   {a:g}   {b:g}" for f, a, b in zip(F, ZR, ZI)]
    s = _one("\n".join(lines).encode())
    assert np.array_equal(s.impedance_ohm.real, ZR)


def test_headerless_table_must_have_three_columns():
    with pytest.raises(ParseError) as caught:
        parse(_table(None, zip(F, ZR, ZI, ZR)), filename="four.csv")
    assert str(caught.value) == "four.csv, line 1: no header row; a table without one must have exactly 3 columns (f, Z', Z''), found 4"


@pytest.mark.parametrize(("repeat_at", "of_index"), [(2, 1), (1, 0)])
def test_repeated_frequency_is_refused_naming_both_lines(repeat_at, of_index):
    rows = list(zip(F, ZR, ZI))
    rows.insert(repeat_at, (F[of_index], 99.0, -99.0))
    with pytest.raises(ParseError) as caught:
        parse(_table("f,Z',Z''", rows), filename="repeat.csv")
    error = caught.value
    repeat_line, first_line = repeat_at + 2, of_index + 2  # 1-based, after the header line
    assert (error.line, error.field, error.lines, error.points) == (repeat_line, "frequency", (repeat_line,), ())
    assert f"line {repeat_line} repeats {F[of_index]:g} Hz of line {first_line}" in error.reason


def test_every_repeat_is_listed():
    rows = [(f, r, i) for f, r, i in zip(F, ZR, ZI) for _ in range(2)]
    with pytest.raises(ParseError) as caught:
        parse(_table("f,Z',Z''", rows), filename="twice.csv")
    assert caught.value.lines == (3, 5, 7, 9, 11)
    assert "line 11 repeats 0.1 Hz of line 10" in caught.value.reason


def test_frequency_restart_splits_into_spectra():
    rows = list(zip(F, ZR, ZI)) + list(zip(F, [v + 1 for v in ZR], ZI))
    spectra = parse(_table("f,Z',Z''", rows), filename="two.csv")
    assert [len(s) for s in spectra] == [5, 5]
    assert [s.index for s in spectra] == [0, 1]
    assert spectra[1].impedance_ohm[0].real == ZR[0] + 1
    assert spectra[1].source_line == 7


def test_zero_frequency_rejected_in_generic_table():
    rows = list(zip(F, ZR, ZI)) + [(0.0, 1.0, -1.0)]
    with pytest.raises(ParseError) as caught:
        parse(_table("f,Z',Z''", rows), filename="zero.csv")
    assert str(caught.value) == "zero.csv, line 7: frequency must be > 0, found 0.0"


@pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason="no instrument files")
def test_mpt_cycle_number_splits_spectra():
    text = read("exampleDataBioLogic.mpt").decode("latin-1")
    lines = text.split("\n")
    names = lines[60].split("\t")
    cycle = names.index("cycle number")
    for i in range(61 + 20, len(lines)):
        cells = lines[i].split("\t")
        cells[cycle] = "2.000000000000000E+000"
        lines[i] = "\t".join(cells)
    spectra = parse("\n".join(lines).encode("latin-1"), filename="cycles.mpt")
    assert [len(s) for s in spectra] == [20, 23]
    assert [s.metadata["cycle"] for s in spectra] == [1, 2]
    assert spectra[1].source_line == 82


def test_header_that_does_not_fit_the_rows_is_an_error_not_preamble():
    data = _table("freq,Z',Z''", zip(F, ZR, ZI), "\t")
    with pytest.raises(ParseError) as caught:
        parse(data, filename="mixed.txt")
    assert str(caught.value) == (
        "mixed.txt, line 1: column names do not line up with the data rows (line 2 has 3 values separated by tabs)"
    )
