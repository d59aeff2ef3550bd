"""EC-Lab .mpr data modules of every known layout, written from known arrays and read back."""

from datetime import datetime

import numpy as np
import pytest

from apps.measurements.parsers import ParseError, detect_format, parse
from mpr_builder import LAYOUTS, build_mpr
from parser_test_files import INSTRUMENT_FILES, path

# a capacitive arc with a series resistance, 1 MHz .. 0.1 Hz, 5 points per decade
F_HZ = np.logspace(6, -1, 36)
Z_OHM = 12.0 + 850.0 / (1 + 1j * 2 * np.pi * F_HZ * 850.0 * 2.2e-9)


def _float32(values):
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def _eis_columns(f=F_HZ, z=Z_OHM):
    n = len(f)
    return {
        32: f,
        37: z.real,
        38: -z.imag,
        36: np.abs(z),
        35: np.degrees(np.angle(z)),
        4: np.linspace(0.0, 600.0, n),
        77: np.full(n, 0.01),
        169: np.full(n, 2.2e-3),
        24: np.ones(n),
        438: np.linspace(0.0, 600.0, n),  # an id above 255 that readers list by name
        473: np.zeros(n),  # one they do not: the quantity of its low byte, 217 (THD Ewe)
        131: np.zeros(n, dtype=np.uint16),
        39: np.full(n, 7, dtype=np.uint16),
    }


def _one(data, name="eis.mpr"):
    (spectrum,) = parse(data, filename=name)
    return spectrum


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_round_trips(layout):
    columns = _eis_columns()
    if LAYOUTS[layout].id_dtype == "u1":  # one byte per id: no ids above 255
        columns = {k: v for k, v in columns.items() if k < 256}
    data = build_mpr(LAYOUTS[layout], columns)
    assert detect_format(data) == "biologic-mpr"
    spectrum = _one(data)
    assert spectrum.format == "biologic-mpr"
    assert spectrum.metadata["mpr_data_version"] == LAYOUTS[layout].version
    assert np.array_equal(spectrum.frequencies_hz, _float32(F_HZ))
    assert np.array_equal(spectrum.impedance_ohm.real, _float32(Z_OHM.real))
    assert np.array_equal(spectrum.impedance_ohm.imag, _float32(Z_OHM.imag))  # -Im(Z) sign undone


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_flag_byte_sits_where_the_first_flag_column_is_listed(layout):
    columns = {32: F_HZ, 37: Z_OHM.real, 38: -Z_OHM.imag, 4: np.arange(len(F_HZ), dtype=float)}
    ids = [32, 1, 37, 3, 38, 4]
    flags = np.full(len(F_HZ), 0b1011, dtype=np.uint8)
    spectrum = _one(build_mpr(LAYOUTS[layout], columns, column_ids=ids, flags=flags))
    assert np.array_equal(spectrum.frequencies_hz, _float32(F_HZ))
    assert np.array_equal(spectrum.impedance_ohm.real, _float32(Z_OHM.real))


@pytest.mark.parametrize("layout", ["v0-ec-lab-11.50", "v3"])
def test_modulus_and_phase_only(layout):
    columns = {32: F_HZ, 36: np.abs(Z_OHM), 35: np.degrees(np.angle(Z_OHM))}
    spectrum = _one(build_mpr(LAYOUTS[layout], columns))
    np.testing.assert_allclose(spectrum.impedance_ohm, Z_OHM, rtol=2e-6)  # float32 storage


@pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason="no instrument files")
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_real_spectrum_rewritten_in_each_layout_matches_its_mpt_export(layout):
    (mpt,) = parse(path("exampleDataBioLogic.mpt"))
    f, z = mpt.frequencies_hz, mpt.impedance_ohm
    columns = {k: v for k, v in _eis_columns(f, z).items() if LAYOUTS[layout].id_dtype != "u1" or k < 256}
    spectrum = _one(build_mpr(LAYOUTS[layout], columns), "exampleDataBioLogic.mpr")
    np.testing.assert_allclose(spectrum.frequencies_hz, f, rtol=1e-7)
    np.testing.assert_allclose(spectrum.impedance_ohm.real, z.real, rtol=1e-7)
    np.testing.assert_allclose(spectrum.impedance_ohm.imag, z.imag, rtol=1e-7)


def test_start_time_and_software_from_the_log_module():
    started = datetime(2025, 7, 15, 9, 41, 7, 250000)
    data = build_mpr(LAYOUTS["v0-ec-lab-11.50"], _eis_columns(), log=(started, "11.61"))
    meta = _one(data).metadata
    assert meta["started_at"] == "2025-07-15T09:41:07"
    assert meta["date"] == "2025-07-15"
    assert meta["software"] == "EC-Lab v11.61"


def test_log_values_that_are_no_date_are_left_out():
    data = build_mpr(LAYOUTS["v3"], _eis_columns(), log=(datetime(1900, 1, 2), "x"))
    meta = _one(data).metadata
    assert "started_at" not in meta
    assert meta["software"] == "EC-Lab"
    assert meta["date"] == "2025-07-15"  # from the module header


def test_cycles_become_separate_spectra():
    columns = _eis_columns(np.concatenate([F_HZ, F_HZ]), np.concatenate([Z_OHM, Z_OHM * 2]))
    columns[24] = np.repeat([1.0, 2.0], len(F_HZ))
    spectra = parse(build_mpr(LAYOUTS["v0-ec-lab-11.50"], columns), filename="two.mpr")
    assert [s.metadata["cycle"] for s in spectra] == [1, 2]
    np.testing.assert_allclose(spectra[1].impedance_ohm, 2 * _float32(Z_OHM.real) + 2j * _float32(Z_OHM.imag))


def test_zero_frequency_rows_outside_the_sweep_are_skipped():
    f = np.concatenate([[0.0, 0.0], F_HZ])
    z = np.concatenate([[0.0, 0.0], Z_OHM])
    spectrum = _one(build_mpr(LAYOUTS["v3"], {32: f, 37: z.real, 38: -z.imag}))
    assert np.array_equal(spectrum.frequencies_hz, _float32(F_HZ))


@pytest.mark.parametrize("version", [1, 4, 11])
def test_unknown_module_version_is_refused_by_name(version):
    layout = LAYOUTS["v3"].__class__(**{**LAYOUTS["v3"].__dict__, "version": version})
    with pytest.raises(ParseError) as caught:
        parse(build_mpr(layout, _eis_columns()), filename="future.mpr")
    assert str(caught.value).startswith(f"future.mpr: unsupported 'VMP data' module version {version} ")
    assert "knows versions 0, 2, 3" in caught.value.reason


def test_unknown_column_id_is_refused():
    columns = {32: F_HZ, 37: Z_OHM.real, 38: -Z_OHM.imag, 250: F_HZ}
    with pytest.raises(ParseError) as caught:
        parse(build_mpr(LAYOUTS["v0-ec-lab-11.50"], columns), filename="odd.mpr")
    assert "unknown data column id 250" in caught.value.reason


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fewer_records_than_stated_is_a_truncated_file(layout):
    columns = {32: F_HZ, 37: Z_OHM.real, 38: -Z_OHM.imag}
    data = build_mpr(LAYOUTS[layout], columns, n_points=len(F_HZ) + 3)
    with pytest.raises(ParseError) as caught:
        parse(data, filename="cut.mpr")
    assert "truncated" in caught.value.reason


def test_repeated_frequency_names_the_records():
    f = F_HZ.copy()
    f[7] = f[6]
    with pytest.raises(ParseError) as caught:
        parse(build_mpr(LAYOUTS["v0-ec-lab-11.50"], {32: f, 37: Z_OHM.real, 38: -Z_OHM.imag}), filename="rep.mpr")
    error = caught.value
    assert (error.points, error.lines, error.line, error.field) == ((8,), (), None, "frequency")
    assert "point 8 repeats" in error.reason and "of point 7" in error.reason


def test_impedance_columns_missing():
    with pytest.raises(ParseError) as caught:
        parse(build_mpr(LAYOUTS["v3"], {32: F_HZ, 4: F_HZ}), filename="cv.mpr")
    assert caught.value.field == "impedance"


@pytest.mark.parametrize(
    ("technique_id", "technique", "mode"),
    [
        (0x1D, "Potentio Electrochemical Impedance Spectroscopy", "potentiostatic"),
        (0x1E, "Galvano Electrochemical Impedance Spectroscopy", "galvanostatic"),
        (0x06, None, None),  # cyclic voltammetry: not an impedance technique, not named
    ],
)
def test_technique_from_the_settings_module(technique_id, technique, mode):
    data = build_mpr(LAYOUTS["v0-ec-lab-11.50"], _eis_columns(), technique_id=technique_id)
    meta = _one(data).metadata
    assert (meta.get("technique"), meta.get("mode")) == (technique, mode)
