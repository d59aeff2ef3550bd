"""Every real instrument export in the shared folder parses to the right spectra."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from apps.measurements.parsers import FORMATS, PARSER_VERSION, ParsedSpectrum, ParseError, detect_format, parse, to_csv, to_json
from parser_test_files import EXPECTED, INSTRUMENT_FILES, NOT_SPECTRA, REJECTED, path, read

pytestmark = pytest.mark.skipif(not INSTRUMENT_FILES.is_dir(), reason=f"no instrument files at {INSTRUMENT_FILES}")

FILES = sorted(EXPECTED)


def test_every_shared_file_is_covered():
    on_disk = {p.name for p in INSTRUMENT_FILES.iterdir()} - NOT_SPECTRA
    assert on_disk == set(EXPECTED) | REJECTED


@pytest.mark.parametrize("name", FILES)
def test_spectrum_count_points_and_frequency_range(name):
    fmt, n_spectra, n_points, first_hz, last_hz = EXPECTED[name]
    spectra = parse(path(name))
    assert len(spectra) == n_spectra
    spectrum = spectra[0]
    assert isinstance(spectrum, ParsedSpectrum)
    assert spectrum.format == fmt
    assert len(spectrum.frequencies_hz) == len(spectrum.impedance_ohm) == n_points
    # the binary file stores float32, so compare at float32 precision
    assert spectrum.frequencies_hz[0] == pytest.approx(first_hz, rel=1e-7)
    assert spectrum.frequencies_hz[-1] == pytest.approx(last_hz, rel=1e-7)
    assert spectrum.frequencies_hz.dtype == np.float64
    assert spectrum.impedance_ohm.dtype == np.complex128
    assert [s.index for s in spectra] == list(range(n_spectra))


@pytest.mark.parametrize("name", FILES)
def test_capacitive_spectrum_has_negative_imaginary_part(name):
    for spectrum in parse(path(name)):
        assert np.mean(spectrum.impedance_ohm.imag < 0) > 0.5


@pytest.mark.parametrize("name", FILES)
def test_format_detected_from_content_despite_wrong_extension(name, tmp_path):
    fmt = EXPECTED[name][0]
    wrong = ".csv" if not name.endswith(".csv") else ".DTA"
    renamed = tmp_path / (Path(name).stem + wrong)
    renamed.write_bytes(read(name))
    assert detect_format(read(name), filename=renamed.name) == fmt
    assert [s.format for s in parse(renamed)] == [fmt] * EXPECTED[name][1]


@pytest.mark.parametrize("name", FILES)
def test_bytes_and_path_give_the_same_spectra(name):
    from_path = parse(path(name))
    from_bytes = parse(read(name), filename=name)
    assert len(from_path) == len(from_bytes)
    for a, b in zip(from_path, from_bytes):
        assert np.array_equal(a.frequencies_hz, b.frequencies_hz)
        assert np.array_equal(a.impedance_ohm, b.impedance_ohm)
        assert a.metadata == b.metadata


@pytest.mark.parametrize("name", FILES)
def test_metadata_is_plain_json_and_names_the_format(name):
    for spectrum in parse(path(name)):
        assert json.loads(json.dumps(spectrum.metadata, allow_nan=False)) == spectrum.metadata
        assert spectrum.metadata["format"] == EXPECTED[name][0]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("export", [to_csv, to_json], ids=["csv", "json"])
def test_export_round_trips_bit_for_bit(name, export):
    for spectrum in parse(path(name)):
        again = parse(export(spectrum).encode("utf-8"), filename=f"export.{export.__name__[3:]}")
        assert len(again) == 1
        back = again[0]
        assert back.format == ("assbdb-csv" if export is to_csv else "assbdb-json")
        assert np.array_equal(back.frequencies_hz.view(np.uint64), spectrum.frequencies_hz.view(np.uint64))
        assert np.array_equal(back.impedance_ohm.view(np.uint64), spectrum.impedance_ohm.view(np.uint64))
        assert back.metadata == spectrum.metadata


def test_export_accepts_a_plain_tuple():
    f = np.array([1e3, 1e2, 1e1, 1.0, 0.1])
    z = np.array([10 - 1j, 11 - 2j, 12 - 3j, 13 - 4j, 14 - 5j])
    text = to_csv((f, z, {"temperature_c": 25.0}))
    assert text.splitlines()[-6] == "frequency_hz,z_real_ohm,z_imag_ohm"
    (back,) = parse(text.encode())
    assert back.metadata == {"temperature_c": 25.0}
    assert np.array_equal(back.impedance_ohm, z)
    document = json.loads(to_json((f, z, {})))
    assert document["format"] == "assbdb-spectrum" and document["version"] == 1
    assert document["z_imag_ohm"] == [-1.0, -2.0, -3.0, -4.0, -5.0]


def test_binary_mpr_agrees_with_text_mpt():
    (binary,) = parse(path("exampleDataBioLogic.mpr"))
    (text,) = parse(path("exampleDataBioLogic.mpt"))
    assert len(binary) == len(text)
    # the .mpr stores float32; the .mpt prints them with 8 significant digits
    np.testing.assert_allclose(binary.frequencies_hz, text.frequencies_hz, rtol=1e-6)
    np.testing.assert_allclose(binary.impedance_ohm.real, text.impedance_ohm.real, rtol=1e-6)
    np.testing.assert_allclose(binary.impedance_ohm.imag, text.impedance_ohm.imag, rtol=1e-6, atol=1e-9)
    assert binary.metadata["date"] == text.metadata["date"] == "2018-02-04"
    for key in ("started_at", "technique", "mode"):
        assert binary.metadata[key] == text.metadata[key]


def test_biologic_exported_text_agrees_with_mpt():
    (exported,) = parse(path("exampleDataBioLogic.txt"))
    (mpt,) = parse(path("exampleDataBioLogic.mpt"))
    assert np.array_equal(exported.frequencies_hz, mpt.frequencies_hz)
    assert np.array_equal(exported.impedance_ohm, mpt.impedance_ohm)  # -Im(Z) sign undone in the .mpt


def test_missing_frequency_column_is_rejected_by_name():
    with pytest.raises(ParseError) as caught:
        parse(path("exampleDataBioLogic_MissingFreq.mpt"))
    error = caught.value
    assert str(error) == "exampleDataBioLogic_MissingFreq.mpt, line 61: no frequency column (expected 'freq/Hz')"
    assert (error.filename, error.line, error.field) == ("exampleDataBioLogic_MissingFreq.mpt", 61, "frequency")


def test_gamry_header_tags_become_metadata():
    (spectrum,) = parse(path("exampleDataGamry.DTA"))
    meta = spectrum.metadata
    assert meta["mode"] == "potentiostatic"
    assert meta["started_at"] == "2018-04-23T16:43:15"
    assert meta["dc_bias_v"] == -0.05
    assert meta["ac_amplitude_mv"] == 10
    assert meta["area_cm2"] == 1
    assert meta["points_per_decade"] == 10
    assert meta["instrument"] == "Gamry REF3000-34128"
    assert meta["title"] == "Potentiostatic EIS"
    assert "aborted" not in meta


def test_aborted_gamry_run_keeps_measured_points_and_says_so():
    (spectrum,) = parse(path("exampleDataGamryABORT.DTA"))
    assert spectrum.metadata["aborted"] is True
    assert spectrum.metadata["freq_final_hz"] == 0.001  # planned, not reached
    assert spectrum.frequencies_hz.min() > 0.01


def test_biologic_header_becomes_metadata():
    (spectrum,) = parse(path("exampleDataBioLogic.mpt"))
    meta = spectrum.metadata
    assert meta["instrument"] == "BioLogic SP-150"
    assert meta["started_at"] == "2018-02-04T10:02:46"
    assert meta["area_cm2"] == 0.001
    assert meta["ac_amplitude_mv"] == 20
    assert meta["points_per_decade"] == 9
    assert meta["cycle"] == 1


def test_chi_and_versastudio_metadata():
    (chi,) = parse(path("exampleDataCHInstruments.txt"))
    assert chi.metadata["ac_amplitude_mv"] == 25
    assert chi.metadata["started_at"] == "2020-02-20T15:55:08"
    (versa,) = parse(path("exampleDataVersaStudio.par"))
    assert versa.metadata["started_at"] == "2018-07-19T09:40:30"
    assert versa.metadata["ac_amplitude_mv"] == 20
    assert versa.metadata["instrument"] == "Princeton Applied Research VersaSTAT4"


def test_parstat_dc_rows_are_not_taken_as_impedance():
    (spectrum,) = parse(path("exampleDataParstat.txt"))
    assert spectrum.source_line == 783  # first row with a non-zero frequency


def test_registry_lists_every_detected_format():
    assert {fmt for fmt, *_ in EXPECTED.values()} <= set(FORMATS)
    assert PARSER_VERSION == "1.1.0"


def test_package_imports_without_django():
    code = "import sys; sys.modules['django'] = None; import apps.measurements.parsers as p; print(p.PARSER_VERSION)"
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.1.0"
