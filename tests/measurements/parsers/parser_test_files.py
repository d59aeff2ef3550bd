"""Where the shared real instrument exports live, and what each one holds.

Expected values were read off the files themselves (first and last data
rows, number of rows), not from the parser.
"""

import math
from pathlib import Path

import numpy as np

from apps.measurements.parsers import ParsedSpectrum, ParseError, parse

INSTRUMENT_FILES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "instrument-files"

# file -> (format, spectra, points of the first spectrum, first frequency, last frequency)
EXPECTED = {
    "Circuit1_EIS_1.z": ("zplot-z", 1, 48, 5.0e4, 1.0),
    "Circuit1_EIS_2.z": ("zplot-z", 1, 48, 5.0e4, 1.0),
    "Circuit2_EIS_1.z": ("zplot-z", 1, 56, 3.0e5, 1.0),
    "Circuit2_EIS_2.z": ("zplot-z", 1, 56, 3.0e5, 1.0),
    "Circuit3_EIS_1.z": ("zplot-z", 1, 53, 1.5e5, 1.0),
    "Circuit3_EIS_2.z": ("zplot-z", 1, 53, 1.5e5, 1.0),
    "exampleData.csv": ("csv", 1, 66, 3.162299999999999833e-03, 1.0e4),
    "exampleDataAutolab.txt": ("zplotw-text", 1, 41, 10000.0, 0.1),
    "exampleDataBioLogic.mpr": ("biologic-mpr", 1, 43, 1.0003201e3, 1.6895540e-2),
    "exampleDataBioLogic.mpt": ("biologic-mpt", 1, 43, 1.0003201e3, 1.6895540e-2),
    "exampleDataBioLogic.txt": ("biologic-txt", 1, 43, 1.0003201e3, 1.6895540e-2),
    "exampleDataCHInstruments.txt": ("chi-text", 1, 73, 9.961e4, 0.1),
    "exampleDataGamry.DTA": ("gamry-dta", 1, 72, 200015.6, 0.0158898),
    "exampleDataGamryABORT.DTA": ("gamry-dta", 1, 72, 200015.6, 0.0158898),
    "exampleDataParstat.txt": ("parstat-text", 1, 31, 10000.0, 10.0),
    "exampleDataPowersuite.txt": ("powersuite-text", 1, 30, 0.1, 2.0e6),
    "exampleDataVersaStudio.par": ("versastudio-par", 1, 61, 100000.0, 0.02154435),
    "exampleDataZPlot.z": ("zplot-z", 1, 21, 3.0e5, 3.0e3),
    "exampleDataZPlot_noComments.z": ("zplotw-text", 1, 31, 3.0e5, 3.0e2),
}

REJECTED = {"exampleDataBioLogic_MissingFreq.mpt"}
NOT_SPECTRA = {"README.md", "LICENSE-impedance.py.txt"}

# text files: (delimiter of the data rows, position of the frequency cell in a raw row)
TEXT_LAYOUT = {
    "Circuit1_EIS_1.z": ("\t", 0),
    "exampleData.csv": (",", 0),
    "exampleDataAutolab.txt": (",", 0),
    "exampleDataBioLogic.mpt": ("\t", 0),
    "exampleDataBioLogic.txt": ("\t", 0),
    "exampleDataCHInstruments.txt": (",", 0),
    "exampleDataGamry.DTA": ("\t", 3),
    "exampleDataGamryABORT.DTA": ("\t", 3),
    "exampleDataParstat.txt": ("\t", 3),
    "exampleDataPowersuite.txt": ("\t", 0),
    "exampleDataVersaStudio.par": (",", 9),
    "exampleDataZPlot.z": ("\t", 0),
    "exampleDataZPlot_noComments.z": (",", 0),
}


def path(name: str) -> Path:
    return INSTRUMENT_FILES / name


def read(name: str) -> bytes:
    return path(name).read_bytes()


def check_spectra_or_parse_error(data: bytes, name: str) -> None:
    """parse() gives valid spectra or a ParseError in our terms - never another exception."""
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
