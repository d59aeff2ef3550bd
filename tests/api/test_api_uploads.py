"""Uploads of real instrument files and zips, and JSON bulk creation from arrays."""
import io
import zipfile

import numpy as np
import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum, RawFile
from tests.factories import CellFactory, rc_spectrum

pytestmark = pytest.mark.django_db

UPLOAD = "api:spectrum-upload"
BULK = "api:spectrum-bulk"


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.GROUP)


def _file(path, name=None):
    handle = io.BytesIO(path.read_bytes())
    handle.name = name or path.name
    return handle


def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    buffer.name = "night-run.zip"
    return buffer


@pytest.mark.parametrize("filename", ["exampleDataGamry.DTA", "exampleDataZPlot.z", "exampleDataBioLogic.mpt"])
def test_upload_of_a_real_instrument_file_creates_its_spectra(client_for, cell, instrument_files, filename):
    response = client_for("member").post(
        reverse(UPLOAD),
        {"file": _file(instrument_files / filename), "cell": cell.pk, "temperature_c": 25, "conditions": '{"stack_pressure_mpa": 12}'},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["files"][0]["status"] == "accepted"
    created = ImpedanceSpectrum.objects.filter(cell=cell)
    assert body["created"] == created.count() >= 1
    assert {s["id"] for s in body["files"][0]["spectra"]} == set(created.values_list("pk", flat=True))
    assert set(created.values_list("temperature_c", flat=True)) == {25.0}
    assert set(created.values_list("stack_pressure_mpa", flat=True)) == {12.0}
    assert RawFile.objects.get(pk=body["files"][0]["raw_file"]).original_name == filename


def test_same_file_uploaded_twice_is_reported_as_duplicate(client_for, cell, instrument_files):
    client = client_for("member")
    first = client.post(reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataGamry.DTA"), "cell": cell.pk})
    second = client.post(reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataGamry.DTA"), "cell": cell.pk})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["files"][0]["status"] == "duplicate"
    assert second.json()["files"][0]["spectra"] == first.json()["files"][0]["spectra"]
    assert RawFile.objects.count() == 1


def test_unreadable_file_answers_400_naming_the_file_and_stores_nothing(client_for, cell):
    garbage = io.BytesIO(b"this is not an impedance export\nat all\n")
    garbage.name = "notes.txt"
    response = client_for("member").post(reverse(UPLOAD), {"file": garbage, "cell": cell.pk})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "notes.txt" in error["fields"]["file"][0]
    assert not ImpedanceSpectrum.objects.exists() and not RawFile.objects.exists()


def test_zip_upload_reports_each_file_and_keeps_the_good_ones(client_for, cell, instrument_files):
    archive = _zip({
        "a/exampleDataZPlot.z": (instrument_files / "exampleDataZPlot.z").read_bytes(),
        "b/exampleDataGamry.DTA": (instrument_files / "exampleDataGamry.DTA").read_bytes(),
        "broken.csv": b"frequency,zreal\n1,2\n",
    })
    response = client_for("member").post(reverse(UPLOAD), {"file": archive, "cell": cell.pk})
    assert response.status_code == 201, response.content
    status = {f["name"]: f["status"] for f in response.json()["files"]}
    assert status == {"a/exampleDataZPlot.z": "accepted", "b/exampleDataGamry.DTA": "accepted", "broken.csv": "rejected"}
    rejected = next(f for f in response.json()["files"] if f["status"] == "rejected")
    assert rejected["reason"] and rejected["spectra"] == []
    assert response.json()["rejected"] == 1
    assert RawFile.objects.count() == 2


def test_zip_of_only_bad_files_answers_400_with_a_reason_per_file(client_for, cell):
    archive = _zip({"one.csv": b"nothing here\n", "two.DTA": b"\x00\x01\x02garbage"})
    response = client_for("member").post(reverse(UPLOAD), {"file": archive, "cell": cell.pk})
    assert response.status_code == 400
    reasons = response.json()["error"]["fields"]["file"]
    assert [r.split(":")[0] for r in reasons] == ["one.csv", "two.DTA"]
    assert not ImpedanceSpectrum.objects.exists()


@pytest.mark.parametrize("role,expected", [("anonymous", 401), ("outsider", 400), ("member", 201), ("owner", 201)])
def test_upload_to_a_group_only_cell_needs_membership(client_for, cell, instrument_files, role, expected):
    response = client_for(role).post(reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataZPlot.z"), "cell": cell.pk})
    assert response.status_code == expected
    if expected == 400:  # the outsider cannot see the cell: it reads as absent
        assert "cell" in response.json()["error"]["fields"]


def test_outsider_cannot_upload_to_a_public_cell(client_for, group, instrument_files):
    cell = CellFactory(group=group, visibility=Visibility.PUBLIC)
    response = client_for("outsider").post(
        reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataZPlot.z"), "cell": cell.pk}
    )
    assert response.status_code == 403
    assert not ImpedanceSpectrum.objects.exists()


def test_upload_with_an_unknown_condition_names_it(client_for, cell, instrument_files):
    response = client_for("member").post(
        reverse(UPLOAD),
        {"file": _file(instrument_files / "exampleDataZPlot.z"), "cell": cell.pk, "conditions": '{"colour": "blue"}'},
    )
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["fields"]


def _arrays(r_ohm=1000.0, n=20):
    f, z = rc_spectrum(r_ohm=r_ohm, n_points=n)
    return {"frequencies_hz": f.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist()}


def test_bulk_creation_stores_every_spectrum_with_its_arrays(client_for, cell):
    payload = {"cell": cell.pk, "spectra": [{**_arrays(1000), "temperature_c": 25}, {**_arrays(500), "temperature_c": 40}]}
    response = client_for("member").post(reverse(BULK), payload, format="json")
    assert response.status_code == 201, response.content
    assert [row["temperature_c"] for row in response.json()] == [25.0, 40.0]
    stored = ImpedanceSpectrum.objects.get(pk=response.json()[1]["id"])
    f, z = rc_spectrum(r_ohm=500, n_points=20)
    np.testing.assert_array_equal(stored.frequencies_hz, f)
    np.testing.assert_array_equal(stored.impedance_ohm, z)


def test_bulk_creation_is_all_or_nothing_and_names_the_bad_item(client_for, cell):
    bad = _arrays()
    bad["frequencies_hz"][3] = bad["frequencies_hz"][2]  # a repeated frequency
    payload = {"cell": cell.pk, "spectra": [_arrays(), bad]}
    response = client_for("member").post(reverse(BULK), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["spectra[1].frequencies_hz"]
    assert not ImpedanceSpectrum.objects.exists()


def test_bulk_creation_rejects_arrays_of_different_length(client_for, cell):
    bad = _arrays()
    bad["z_imag_ohm"] = bad["z_imag_ohm"][:-1]
    response = client_for("member").post(reverse(BULK), {"cell": cell.pk, "spectra": [bad]}, format="json")
    assert response.status_code == 400
    assert "spectra[0]" in next(iter(response.json()["error"]["fields"]))


def test_uploaded_spectrum_detail_returns_the_arrays_the_file_holds(client_for, cell, instrument_files):
    from apps.measurements.parsers import parse

    client = client_for("member")
    body = client.post(reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataZPlot.z"), "cell": cell.pk}).json()
    detail = client.get(reverse("api:spectrum-detail", args=[body["files"][0]["spectra"][0]["id"]])).json()
    parsed = parse(instrument_files / "exampleDataZPlot.z")[0]
    np.testing.assert_array_equal(detail["frequencies_hz"], parsed.frequencies_hz)
    np.testing.assert_array_equal(detail["z_real_ohm"], parsed.impedance_ohm.real)
    np.testing.assert_array_equal(detail["z_imag_ohm"], parsed.impedance_ohm.imag)


@pytest.mark.django_db(transaction=True)
def test_upload_then_analysis_gives_a_conductivity_the_api_serves(client_for, cell, instrument_files, standard_protocols):
    """The quick-start path, committed as in production: upload, poll the analysis job, read the conductivity."""
    client = client_for("member")
    body = client.post(reverse(UPLOAD), {"file": _file(instrument_files / "exampleDataZPlot.z"), "cell": cell.pk}).json()
    spectrum_id = body["files"][0]["spectra"][0]["id"]
    assert [job["target_id"] for job in body["jobs"]] == [spectrum_id]
    job = client.get(body["jobs"][0]["url"]).json()
    assert job["state"] == "succeeded", job["error"]
    rows = client.get(reverse("api:conductivity-list"), {"spectrum": spectrum_id}).json()["results"]
    assert rows, "the standard analysis stored no conductivity"
    for row in rows:
        assert row["conductivity_s_per_cm"] > 0
        # σ = L / (R·A) with the separator's thickness (cm) and area (cm²)
        expected = (row["thickness_um"] * 1e-4) / (row["resistance_ohm"] * row["area_cm2"])
        assert row["conductivity_s_per_cm"] == pytest.approx(expected, rel=1e-9)


def test_nul_character_in_metadata_is_a_400_naming_where(client_for, cell):
    spectrum = {**_arrays(), "metadata": {"operator": {"name": "a\x00b"}}}
    response = client_for("member").post(reverse(BULK), {"cell": cell.pk, "spectra": [spectrum]}, format="json")
    assert response.status_code == 400
    assert "operator.name" in response.json()["error"]["fields"]["spectra[0].metadata"][0]


def test_cycle_index_beyond_the_database_range_is_a_400(client_for, cell):
    spectrum = {**_arrays(), "cycle_index": 2**40}
    response = client_for("member").post(reverse(BULK), {"cell": cell.pk, "spectra": [spectrum]}, format="json")
    assert response.status_code == 400
    assert "spectra[0].cycle_index" in response.json()["error"]["fields"]
