"""Small readers for the shared instrument files (the project parsers are
built elsewhere; these only serve the engine tests)."""

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "instrument-files"
if not DATA.exists():
    DATA = Path("/work/shared/data/instrument-files")


def read_example_csv():
    """exampleData.csv: f, Z', Z'' without header."""
    d = np.loadtxt(DATA / "exampleData.csv", delimiter=",")
    return d[:, 0], d[:, 1] + 1j * d[:, 2]


def read_zplot(name):
    """ZPlot .z: returns (f Hz, Z complex Ohm, time s) from the block after 'End Comments'."""
    lines = (DATA / name).read_text(errors="replace").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "End Comments") + 1
    rows = np.array([[float(x) for x in line.split()] for line in lines[start:] if line.strip()])
    return rows[:, 0], rows[:, 4] + 1j * rows[:, 5], rows[:, 3]
