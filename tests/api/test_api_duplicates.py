"""A duplicate upload says which spectra and cells hold the file, what was not applied, and attaches only on request."""
import io
import zipfile

import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.jobs.models import Job
from apps.measurements.models import ImpedanceSpectrum, RawFile
from tests.factories import CellFactory

pytestmark = pytest.mark.django_db

UPLOAD = "api:spectrum-upload"
FILENAME = "exampleDataZPlot.z"


@pytest.fixture
def cells(group):
    return CellFactory(group=group, visibility=Visibility.GROUP), CellFactory(group=group, visibility=Visibility.GROUP)


def _post(client, instrument_files, cell, **fields):
    handle = io.BytesIO((instrument_files / FILENAME).read_bytes())
    handle.name = FILENAME
    return client.post(reverse(UPLOAD), {"file": handle, "cell": cell.pk, **fields}, format="multipart")


@pytest.fixture
def first(client_for, cells, instrument_files):
    response = _post(client_for("member"), instrument_files, cells[0], temperature_c=25)
    assert response.status_code == 201
    return response.json()["files"][0]


def test_duplicate_on_another_cell_names_the_holder_and_what_was_not_applied(client_for, cells, instrument_files, first):
    response = _post(client_for("member"), instrument_files, cells[1], temperature_c=60, stack_pressure_mpa=5)
    assert response.status_code == 200
    body = response.json()
    row = body["files"][0]
    assert (body["created"], body["duplicates"], body["jobs"], row["status"]) == (0, 1, [], "duplicate")
    held = row["existing"]["spectra"]
    assert row["existing"]["raw_file"] == first["raw_file"] == row["raw_file"]
    assert [s["id"] for s in held] == [s["id"] for s in first["spectra"]]
    assert {s["cell"] for s in held} == {cells[0].pk}
    assert held[0]["url"].endswith(reverse("api:spectrum-detail", kwargs={"pk": held[0]["id"]}))
    assert held[0]["cell_url"].endswith(reverse("api:cell-detail", kwargs={"pk": cells[0].pk}))
    message = body["message"]
    assert f"cell {cells[1].pk}" in message and "temperature_c=60" in message and "stack_pressure_mpa=5" in message
    assert "NOT applied" in message and "attach=true" in message and message == f"{FILENAME}: {row['reason']}"
    assert not ImpedanceSpectrum.objects.filter(cell=cells[1]).exists()


def test_duplicate_on_the_same_cell_with_other_conditions_says_they_were_not_applied(client_for, cells, instrument_files, first):
    body = _post(client_for("member"), instrument_files, cells[0], temperature_c=60).json()
    assert "temperature_c=60" in body["message"] and "NOT applied" in body["message"]
    assert set(ImpedanceSpectrum.objects.values_list("temperature_c", flat=True)) == {25.0}
    same = _post(client_for("member"), instrument_files, cells[0], temperature_c=25).json()
    assert "NOT applied" not in same["message"] and f"on cell {cells[0].pk} already" in same["message"]


def test_attach_stores_the_same_raw_file_on_the_named_cell_with_the_given_conditions(
    client_for, cells, instrument_files, first, django_capture_on_commit_callbacks
):
    client = client_for("member")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, instrument_files, cells[1], temperature_c=60, attach="true")
    assert response.status_code == 201
    body = response.json()
    row = body["files"][0]
    new = ImpedanceSpectrum.objects.filter(cell=cells[1])
    assert row["status"] == "accepted" and body["created"] == new.count() == len(first["spectra"])
    assert set(new.values_list("raw_file", flat=True)) == {first["raw_file"]} and RawFile.objects.count() == 1
    assert set(new.values_list("temperature_c", flat=True)) == {60.0}
    assert [s["id"] for s in row["existing"]["spectra"]] == [s["id"] for s in first["spectra"]]
    analysed = Job.objects.filter(kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", state="succeeded")
    assert set(analysed.values_list("target_id", flat=True)) == set(new.values_list("pk", flat=True))
    again = _post(client, instrument_files, cells[1], temperature_c=60, attach="true")
    assert again.status_code == 200 and again.json()["created"] == 0  # attached once, never twice
    assert ImpedanceSpectrum.objects.filter(cell=cells[1]).count() == new.count()


def test_attach_needs_write_access_to_the_named_cell(client_for, cells, instrument_files, first):
    foreign = CellFactory(visibility=Visibility.PUBLIC)  # a cell of another group
    response = _post(client_for("member"), instrument_files, foreign, attach="true")
    assert response.status_code == 403
    assert not ImpedanceSpectrum.objects.filter(cell=foreign).exists()


@pytest.mark.parametrize("attach", [False, True])
def test_a_zip_reports_each_stored_member_with_its_holder(client_for, cells, instrument_files, first, attach):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(FILENAME, (instrument_files / FILENAME).read_bytes())
        bundle.writestr("exampleDataGamry.DTA", (instrument_files / "exampleDataGamry.DTA").read_bytes())
    archive.seek(0)
    archive.name = "run.zip"
    fields = {"file": archive, "cell": cells[1].pk, **({"attach": "true"} if attach else {})}
    body = client_for("member").post(reverse(UPLOAD), fields, format="multipart").json()
    rows = {row["name"]: row for row in body["files"]}
    stored, new = rows[FILENAME], rows["exampleDataGamry.DTA"]
    assert stored["status"] == ("accepted" if attach else "duplicate") and new["status"] == "accepted"
    assert [s["id"] for s in stored["existing"]["spectra"]] == [s["id"] for s in first["spectra"]]
    assert new["existing"] is None
    assert body["message"].startswith(f"{FILENAME}: ") and "exampleDataGamry.DTA" not in body["message"]
    assert body["created"] == (2 if attach else 1)


def test_a_duplicate_of_a_fellow_members_private_file_names_none_of_its_records(client_for, users, group, uploader,
                                                                                cells, instrument_files):
    """Issue 17: the message of a duplicate is built per uploader; another member's private spectrum and cell are
    counted, never named (nor their ids given); the group's owners, who see them, read their names."""
    from rest_framework.test import APIClient

    hidden_cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE, name="zqsecret cell")
    as_uploader = APIClient()
    as_uploader.force_authenticate(uploader)
    stored = _post(as_uploader, instrument_files, hidden_cell, visibility="private")
    assert stored.status_code == 201, stored.content[:300]
    (hidden,) = ImpedanceSpectrum.objects.filter(cell=hidden_cell)
    assert hidden.visibility == Visibility.PRIVATE
    body = _post(client_for("member"), instrument_files, cells[0]).json()
    row = body["files"][0]
    assert row["status"] == "duplicate" and row["existing"]["spectra"] == []
    assert "zqsecret" not in body["message"] and f"spectrum {hidden.pk} " not in body["message"]
    assert "1 private record of another member" in body["message"]
    owners_view = _post(client_for("owner"), instrument_files, cells[0]).json()["message"]
    assert f"spectrum {hidden.pk} on cell {hidden_cell.pk} (zqsecret cell)" in owners_view
