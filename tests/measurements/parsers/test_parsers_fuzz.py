"""Seeded fuzzing: truncated and byte-flipped copies of every real instrument file
and of each generated .mpr layout give spectra or a ParseError - never another
exception, never an internal error."""

import random

import numpy as np
import pytest

from apps.measurements.parsers import parse
from mpr_builder import LAYOUTS, build_mpr
from parser_test_files import EXPECTED, INSTRUMENT_FILES, REJECTED, check_spectra_or_parse_error, read

MUTATIONS_PER_FILE = 40


def _generated_mpr(layout_name):
    f = np.logspace(5, -1, 25)
    z = 5.0 + 400.0 / (1 + 1j * 2 * np.pi * f * 400.0 * 1e-7)
    columns = {32: f, 37: z.real, 38: -z.imag, 4: np.arange(25.0), 24: np.ones(25)}
    return build_mpr(LAYOUTS[layout_name], columns, column_ids=[1, 3, 32, 37, 38, 4, 24])


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["truncate", "flip", "flip", "truncate_and_flip"])
    out = bytearray(data)
    if kind in ("truncate", "truncate_and_flip"):
        out = out[: rng.randrange(len(out) + 1)]
    if kind in ("flip", "truncate_and_flip") and out:
        for _ in range(rng.randint(1, 6)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


@pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")
@pytest.mark.parametrize("name", sorted(EXPECTED) + sorted(REJECTED))
def test_mutated_real_file(name):
    original = read(name)
    rng = random.Random(f"fuzz:{name}")
    for _ in range(MUTATIONS_PER_FILE):
        check_spectra_or_parse_error(_mutate(original, rng), name)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_mutated_generated_mpr(layout):
    original = _generated_mpr(layout)
    assert len(parse(original)) == 1
    rng = random.Random(f"fuzz:{layout}")
    for _ in range(MUTATIONS_PER_FILE):
        check_spectra_or_parse_error(_mutate(original, rng), f"{layout}.mpr")
