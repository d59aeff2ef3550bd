"""Whatever the bytes, parse() returns valid spectra or raises ParseError - never anything else."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parser_test_files import EXPECTED, INSTRUMENT_FILES, check_spectra_or_parse_error, read

pytestmark = pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")

NAMES = sorted(EXPECTED) + ["exampleDataBioLogic_MissingFreq.mpt"]
_CACHE: dict[str, bytes] = {}


def _original(name: str) -> bytes:
    if name not in _CACHE:
        _CACHE[name] = read(name)
    return _CACHE[name]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000))
def test_random_bytes_only_raise_parse_error(data):
    check_spectra_or_parse_error(data, "random.bin")


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
    check_spectra_or_parse_error(data, name)
