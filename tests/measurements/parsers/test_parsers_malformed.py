"""Broken variants of the real files fail with a ParseError naming file, line and reason."""

import random

import numpy as np
import pytest

from apps.measurements.parsers import ParseError, parse, to_csv
from parser_test_files import INSTRUMENT_FILES, TEXT_LAYOUT, read

pytestmark = pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")

TEXT_FILES = sorted(TEXT_LAYOUT)


def _lines(name):
    return read(name).decode("latin-1").replace("\r\r\n", "\n").replace("\r\n", "\n").split("\n")


def _middle_row(name):
    """1-based line number of a data row in the middle of the first spectrum."""
    (spectrum, *_) = parse(read(name), filename=name)
    return spectrum.source_line + len(spectrum.frequencies_hz) // 2


def _with_cell(name, line_no, new_value):
    delimiter, position = TEXT_LAYOUT[name]
    lines = _lines(name)
    cells = lines[line_no - 1].split(delimiter)
    cells[position] = new_value
    lines[line_no - 1] = delimiter.join(cells)
    return "\n".join(lines).encode("latin-1")


def _parse_error(data, name):
    with pytest.raises(ParseError) as caught:
        parse(data, filename=name)
    message = str(caught.value)
    assert message.startswith(name)
    assert "internal parser error" not in message
    return caught.value


@pytest.mark.parametrize("name", TEXT_FILES)
def test_truncated_mid_table(name):
    delimiter, _ = TEXT_LAYOUT[name]
    row = _middle_row(name)
    lines = _lines(name)
    cut = lines[row - 1]
    second = cut.index(delimiter, cut.index(delimiter.strip() or delimiter, 1) + 1)
    data = ("\n".join(lines[: row - 1] + [cut[:second]])).encode("latin-1")
    error = _parse_error(data, name)
    assert error.line == row
    assert f"{name}, line {row}: " in str(error)
    assert "truncated" in error.reason


def test_truncated_binary_mpr():
    data = read("exampleDataBioLogic.mpr")
    error = _parse_error(data[:3000], "exampleDataBioLogic.mpr")
    assert "truncated" in error.reason


@pytest.mark.parametrize("data", [b"", b"   \r\n\n  "], ids=["empty", "blank"])
def test_empty_file(data):
    error = _parse_error(data, "empty.DTA")
    assert str(error) == "empty.DTA: file is empty"


@pytest.mark.parametrize("seed", range(3))
def test_binary_garbage(seed):
    data = random.Random(seed).randbytes(4096)
    error = _parse_error(data, "garbage.mpr")
    assert "binary" in error.reason
    assert ".mpr" in error.reason  # says the name promised something else


@pytest.mark.parametrize("name", ["exampleDataGamry.DTA", "exampleData.csv", "exampleDataBioLogic.mpt"])
def test_utf16_text_is_refused(name):
    data = read(name).decode("latin-1").encode("utf-16")
    error = _parse_error(data, name)
    assert "UTF-16" in error.reason


@pytest.mark.parametrize("name", TEXT_FILES)
def test_nan_value(name):
    row = _middle_row(name)
    error = _parse_error(_with_cell(name, row, "NaN"), name)
    assert error.line == row
    assert "non-finite value 'NaN'" in error.reason


@pytest.mark.parametrize("name", TEXT_FILES)
def test_non_numeric_cell(name):
    row = _middle_row(name)
    error = _parse_error(_with_cell(name, row, "12.3x"), name)
    assert error.line == row
    assert "non-numeric value" in error.reason and "in column" in error.reason


@pytest.mark.parametrize("name", TEXT_FILES)
def test_negative_frequency(name):
    row = _middle_row(name)
    error = _parse_error(_with_cell(name, row, "-5"), name)
    assert error.line == row
    assert "frequency must be > 0" in error.reason


def test_gamry_frequency_column_renamed():
    name = "exampleDataGamry.DTA"
    text = read(name).decode("latin-1").replace("\tFreq\t", "\tFrq\t")
    error = _parse_error(text.encode("latin-1"), name)
    assert str(error) == f"{name}, line 447: no frequency column (expected 'Freq')"


def test_csv_without_imaginary_column():
    (spectrum,) = parse(read("exampleDataGamry.DTA"))
    rows = [line.rsplit(",", 1)[0] for line in to_csv(spectrum).splitlines()]
    error = _parse_error("\n".join(rows).encode(), "two-columns.csv")
    assert "no imaginary-impedance column" in error.reason


def test_gamry_cut_after_three_points_has_too_few():
    name = "exampleDataGamry.DTA"
    (spectrum,) = parse(read(name))
    lines = _lines(name)[: spectrum.source_line + 2]
    error = _parse_error("\n".join(lines).encode("latin-1"), name)
    assert "only 3 data points; at least 5 are needed" in error.reason
    assert error.line == spectrum.source_line


def test_csv_with_four_points_has_too_few():
    (spectrum,) = parse(read("exampleData.csv"))
    lines = to_csv(spectrum).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("frequency_hz"))
    error = _parse_error("\n".join(lines[: header + 5]).encode(), "short.csv")
    assert "only 4 data points" in error.reason


def test_versastudio_segment_never_closed():
    name = "exampleDataVersaStudio.par"
    text = read(name).decode("utf-8")
    cut = text[: text.index("</Segment1>")]
    error = _parse_error(cut.encode("utf-8"), name)
    assert error.line == 177  # the last row before the cut
    assert "<Segment1> opened on line 113 is never closed" in error.reason


def test_parse_error_survives_pickling():
    import pickle

    error = ParseError("bad", filename="a.csv", line=3, field="frequency")
    again = pickle.loads(pickle.dumps(error))
    assert (again.reason, again.filename, again.line, again.field) == ("bad", "a.csv", 3, "frequency")
    assert str(again) == "a.csv, line 3: bad"
    assert isinstance(again, ValueError)


def test_missing_path_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError) as caught:
        parse(tmp_path / "nope.DTA")
    assert str(caught.value).startswith("nope.DTA: cannot read file")


def test_parsed_arrays_are_read_only():
    (spectrum,) = parse(read("exampleData.csv"))
    with pytest.raises(ValueError):
        spectrum.frequencies_hz[0] = 1.0
    assert np.all(spectrum.frequencies_hz > 0)
