"""Real-data regression: a battery cell's spectrum (impedance.py's exampleData.csv, a Li-ion cell from
10 kHz to 3 mHz: lead inductance, two arcs, diffusion tail), read in place from the shared instrument
files and analysed through the service path under the full-cell standard protocol.

Truth from the data themselves: the separator resistance R0 is where the spectrum crosses the real axis
between the inductive top and the first arc (interpolated linearly in Z'' between the two points around
the crossing), and the standard circuit describes the whole spectrum (rms residual under 2 %).
"""
import numpy as np
import pytest

from apps.analysis import protocols as protocol_rules
from apps.analysis import services
from apps.analysis.models import FitStatus
from apps.catalog.models import Cell
from apps.measurements.parsers import parse
from tests.analysis.synthetic import set_spectrum
from tests.factories import CellFactory, SpectrumFactory

pytestmark = pytest.mark.django_db

INTERCEPT_REL_TOLERANCE = 0.10


def _real_axis_crossing_ohm(f, z) -> float:
    order = np.argsort(f)[::-1]
    zr, zi = z.real[order], z.imag[order]
    i = int(np.flatnonzero((zi[:-1] > 0) & (zi[1:] <= 0))[0])
    return float(zr[i] + (zr[i + 1] - zr[i]) * zi[i] / (zi[i] - zi[i + 1]))


def test_battery_cell_spectrum_gives_its_real_axis_intercept_as_separator_resistance(instrument_files):
    parsed = parse(instrument_files / "exampleData.csv")[0]
    f, z = np.asarray(parsed.frequencies_hz, float), np.asarray(parsed.impedance_ohm, complex)
    cell = CellFactory(configuration=Cell.Configuration.FULL_CELL)
    spectrum = set_spectrum(SpectrumFactory(cell=cell, group=cell.group), f, z)

    fit = services.analyse_spectrum(spectrum_id=spectrum.pk).fit

    assert fit.protocol.name == protocol_rules.CELL_WITH_ELECTRODES
    assert fit.status == FitStatus.SUCCEEDED and "poor_chi_square" not in fit.flags
    rms = np.sqrt(np.mean(np.square(fit.residuals_real + fit.residuals_imag)))
    assert rms < 0.02
    assert fit.parameters["R0"] == pytest.approx(_real_axis_crossing_ohm(f, z), rel=INTERCEPT_REL_TOLERANCE)
    assert "model_choice" not in fit.derived  # a protocol without a model family is fitted as before
