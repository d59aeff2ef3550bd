"""Whatever the bytes, parse() returns valid spectra or raises ParseError - never anything else."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.measurements.parsers import ParsedSpectrum, ParseError, parse
from parser_test_files import EXPECTED, INSTRUMENT_FILES, read

pytestmark = pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")

NAMES = sorted(EXPECTED) + ["exampleDataBioLogic_MissingFreq.mpt"]
_CACHE: dict[str, bytes] = {}


def _original(name: str) -> bytes:
    if name not in _CACHE:
        _CACHE[name] = read(name)
    return _CACHE[name]


def _check(data: bytes, name: str) -> None:
    try:
        spectra = parse(data, filename=name)
    except ParseError as error:
        assert error.filename == name
        assert error.reason
        assert "internal parser error" not in str(error), str(error)
        return
    assert spectra
    for spectrum in spectra:
        assert isinstance(spectrum, ParsedSpectrum)
        f, z = spectrum.frequencies_hz, spectrum.impedance_ohm
        assert len(f) == len(z) >= 5
        assert np.all(np.isfinite(f)) and np.all(f > 0)
        assert np.all(np.isfinite(z.real)) and np.all(np.isfinite(z.imag))
        assert len(np.unique(f)) == len(f)
        assert all(not isinstance(v, float) or math.isfinite(v) for v in spectrum.metadata.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000))
def test_random_bytes_only_raise_parse_error(data):
    _check(data, "random.bin")


@st.composite
def mutated_files(draw):
    name = draw(st.sampled_from(NAMES))
    data = bytearray(_original(name))
    kind = draw(st.sampled_from(["flip", "truncate", "delete_line", "duplicate_line"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            position = draw(st.integers(0, len(data) - 1))
            data[position] = draw(st.integers(0, 255))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    else:
        lines = bytes(data).split(b"\n")
        index = draw(st.integers(0, len(lines) - 1))
        if kind == "delete_line":
            del lines[index]
        else:
            lines.insert(index, lines[index])
        data = bytearray(b"\n".join(lines))
    return name, bytes(data)


@settings(max_examples=140, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_files())
def test_mutated_real_files_only_raise_parse_error(case):
    name, data = case
    _check(data, name)
