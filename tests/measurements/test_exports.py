"""Spectrum exports: CSV and JSON round-trip exactly through the parsers."""
import datetime
import json

import numpy as np
import pytest

from apps.measurements.exports import export_filename, spectrum_csv, spectrum_json, spectrum_metadata
from apps.measurements.parsers import parse
from apps.measurements.services import ingest_upload
from tests.factories import CellFactory, SpectrumFactory

pytestmark = pytest.mark.django_db

EXPORTS = {"csv": spectrum_csv, "json": spectrum_json}


@pytest.fixture
def spectrum():
    f = np.logspace(6, -1, 40)
    # Values without short decimal forms: the exports must keep every bit.
    z = 12.345678901234567 + 1234.5678901234567 / (1 + 1j * f / 3.3333333333333335e3) + 1e-13j
    s = SpectrumFactory(
        temperature_c=-20.0,
        stack_pressure_mpa=75.0,
        atmosphere="argon",
        cycle_index=4,
        ac_amplitude_mv=10.0,
        measured_at=datetime.datetime(2026, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        metadata={"instrument": "Gamry REF600", "notes": "Ω, µ and ° survive"},
    )
    s.set_arrays(f, z)
    s.save()
    return s


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_export_round_trips_arrays_bit_for_bit(kind, spectrum):
    parsed = parse(EXPORTS[kind](spectrum, user=None).encode("utf-8"), filename=f"s.{kind}")
    assert len(parsed) == 1
    np.testing.assert_array_equal(parsed[0].frequencies_hz, spectrum.frequencies_hz)
    np.testing.assert_array_equal(parsed[0].impedance_ohm, spectrum.impedance_ohm)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_export_round_trips_metadata_with_conditions(kind, spectrum):
    parsed = parse(EXPORTS[kind](spectrum, user=None).encode("utf-8"), filename=f"s.{kind}")[0]
    assert parsed.metadata == spectrum_metadata(spectrum, user=None)
    assert parsed.metadata["temperature_c"] == -20.0
    assert parsed.metadata["stack_pressure_mpa"] == 75.0
    assert parsed.metadata["atmosphere"] == "argon"
    assert parsed.metadata["cycle_index"] == 4
    assert parsed.metadata["measured_at"] == "2026-02-03T04:05:06+00:00"
    assert parsed.metadata["separator_thickness_um"] == spectrum.cell.separator.thickness_um
    assert parsed.metadata["instrument_metadata"]["notes"] == "Ω, µ and ° survive"


def test_json_export_is_the_documented_schema(spectrum):
    document = json.loads(spectrum_json(spectrum, user=None))
    assert document["format"] == "assbdb-spectrum" and document["version"] == 1
    assert set(document) == {"format", "version", "frequencies_hz", "z_real_ohm", "z_imag_ohm", "metadata"}
    assert len(document["frequencies_hz"]) == spectrum.n_points
    assert document["z_imag_ohm"][0] == spectrum.impedance_ohm.imag[0]


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_exported_file_ingests_again_with_its_conditions(kind, spectrum, member, group):
    cell = CellFactory(group=group)
    report = ingest_upload(
        cell=cell, filename=f"again.{kind}", data=EXPORTS[kind](spectrum, user=None).encode("utf-8"), user=member
    )
    again = report.created[0]
    np.testing.assert_array_equal(again.impedance_ohm, spectrum.impedance_ohm)
    assert (again.temperature_c, again.stack_pressure_mpa, again.atmosphere, again.cycle_index) == (
        -20.0,
        75.0,
        "argon",
        4,
    )
    assert again.measured_at == spectrum.measured_at


def test_export_filename_names_spectrum_and_temperature(spectrum):
    assert export_filename(spectrum, "csv") == f"spectrum-{spectrum.pk}_-20C.csv"
