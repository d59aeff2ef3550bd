"""Two-step upload: parse and preview (nothing stored), then confirm onto a cell."""
import json

import pytest

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum, RawFile
from tests.factories import CellFactory


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.GROUP)


def preview(client, path, cell=None):
    with open(path, "rb") as handle:
        url = "/upload/" + (f"?cell={cell.pk}" if cell else "")
        return client.post(url, {"file": handle})


@pytest.mark.parametrize("filename", ["exampleDataZPlot.z", "exampleDataGamry.DTA", "exampleDataBioLogic.mpt"])
def test_preview_shows_parsed_spectrum_and_stores_nothing(client, member, cell, instrument_files, filename):
    client.force_login(member)
    response = preview(client, instrument_files / filename, cell)
    assert response.status_code == 200
    assert response.templates[0].name == "measurements/upload_confirm.html"
    figure = json.loads(response.context["figures"]["preview"])
    assert len(figure["data"][0]["x"]) > 5
    assert figure["layout"]["yaxis"]["scaleanchor"] == "x"
    assert response.context["form"].initial["cell"] == cell.pk
    assert not ImpedanceSpectrum.objects.exists() and not RawFile.objects.exists()


def test_confirm_stores_spectrum_with_conditions_and_redirects_to_it(
    client, member, cell, instrument_files, django_capture_on_commit_callbacks, standard_protocols
):
    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/upload/confirm/",
            {"token": token, "cell": cell.pk, "temperature_c": "30", "stack_pressure_mpa": "25", "atmosphere": "argon"},
        )
    spectrum = ImpedanceSpectrum.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/spectra/{spectrum.pk}/"
    assert (spectrum.cell, spectrum.temperature_c, spectrum.stack_pressure_mpa, spectrum.atmosphere) == (cell, 30.0, 25.0, "argon")
    assert spectrum.raw_file.original_name == "exampleDataZPlot.z"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Analysis state" in page.content
    assert b'id="parameter-table"' in page.content  # tasks run eagerly in tests, so the fit is there
    assert all(row["stderr"] is not None for row in page.context["parameters"])


def test_unreadable_file_shows_the_reason_and_stores_nothing(client, member, cell, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not an impedance spectrum\n1,2\n")
    client.force_login(member)
    response = preview(client, bad)
    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert errors and "notes.txt" in errors[0]
    assert not ImpedanceSpectrum.objects.exists()


@pytest.mark.parametrize("field,value,message", [("cell", "", "This field is required"), ("temperature_c", "hot", "Enter a number"), ("state_of_charge", "3", "less than or equal to 1")])
def test_confirm_with_bad_choices_shows_errors_and_stores_nothing(client, member, cell, instrument_files, field, value, message):
    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    response = client.post("/upload/confirm/", {"token": token, "cell": cell.pk, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ImpedanceSpectrum.objects.exists()


def test_cannot_upload_to_a_cell_of_another_group(client, outsider, cell, instrument_files):
    CellFactory(group=outsider.memberships.get().group)  # a cell of their own, so the upload page is open to them
    client.force_login(outsider)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    response = client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
    assert "Select a valid choice" in response.content.decode()
    assert not ImpedanceSpectrum.objects.exists()


def test_upload_without_a_writable_cell_is_refused_before_the_file_is_read(client, outsider, instrument_files):
    client.force_login(outsider)  # member of a group that owns no cell
    response = preview(client, instrument_files / "exampleDataZPlot.z")
    assert response.status_code == 302 and response["Location"] == "/upload/"
    assert "_files" not in response.wsgi_request.__dict__  # the multipart body was never parsed
    assert not RawFile.objects.exists()


def test_token_from_another_session_is_refused(client, member, cell, instrument_files, django_user_model):
    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    client.logout()
    client.force_login(member)  # a fresh session does not hold the token
    response = client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
    assert response.status_code == 302 and response["Location"] == "/upload/"
    assert not ImpedanceSpectrum.objects.exists()


def test_same_file_twice_returns_existing_spectrum(client, member, cell, instrument_files):
    client.force_login(member)
    first = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    client.post("/upload/confirm/", {"token": first, "cell": cell.pk})
    second = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    response = client.post("/upload/confirm/", {"token": second, "cell": cell.pk}, follow=True)
    assert ImpedanceSpectrum.objects.count() == 1
    page = response.content.decode()
    assert "Nothing was stored" in page and f"on cell {cell.pk} already" in page
    assert "Attach to cell" not in page  # it is on this cell already: nothing to attach


def test_same_file_for_another_cell_says_what_was_not_applied_and_attaches_on_request(
    client, member, cell, group, instrument_files
):
    client.force_login(member)
    other = CellFactory(group=group, visibility=Visibility.GROUP)
    first = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    client.post("/upload/confirm/", {"token": first, "cell": cell.pk})
    held = ImpedanceSpectrum.objects.get()
    second = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    response = client.post("/upload/confirm/", {"token": second, "cell": other.pk, "temperature_c": "60"})
    page = response.content.decode()
    assert response.templates[0].name == "measurements/upload_duplicate.html"
    assert "NOT applied" in page and "temperature_c=60.0" in page
    assert f'href="/spectra/{held.pk}/"' in page and f'href="/cells/{cell.pk}/"' in page
    assert not ImpedanceSpectrum.objects.filter(cell=other).exists()
    attach = dict(response.context["attach_fields"])
    assert attach["attach"] == "on" and attach["token"] == second
    stored = client.post("/upload/confirm/", attach)
    attached = ImpedanceSpectrum.objects.get(cell=other)
    assert stored.status_code == 302 and stored["Location"] == f"/spectra/{attached.pk}/"
    assert (attached.raw_file_id, attached.temperature_c, RawFile.objects.count()) == (held.raw_file_id, 60.0, 1)


@pytest.mark.django_db
def test_a_file_a_fellow_member_holds_privately_is_not_shown_to_another_member(client, member, cell, group,
                                                                                 instrument_files):
    """Issue 17: the page of a duplicate lists (and its explanation names) only the spectra the uploader may see."""
    from apps.measurements.services import ingest_upload
    from tests.factories import MembershipFactory

    uploader = MembershipFactory(group=group, role="member").user
    hidden_cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE, name="zqsecret cell")
    data = (instrument_files / "exampleDataZPlot.z").read_bytes()
    (hidden,) = ingest_upload(data=data, filename="exampleDataZPlot.z", cell=hidden_cell, user=uploader,
                              visibility=Visibility.PRIVATE, analyse=False).created
    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    page = client.post("/upload/confirm/", {"token": token, "cell": cell.pk}).content.decode()
    assert "Nothing was stored" in page and "1 private record of another member" in page
    assert "zqsecret" not in page and f"/spectra/{hidden.pk}/" not in page and f"spectrum {hidden.pk}" not in page
    assert f"/cells/{hidden_cell.pk}/" not in page


def test_upload_requires_login(client):
    response = client.get("/upload/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_zip_previews_each_file_then_stores_each(client, member, cell, instrument_files, tmp_path):
    import zipfile

    archive = tmp_path / "night.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(instrument_files / "exampleDataZPlot.z", "exampleDataZPlot.z")
        z.write(instrument_files / "exampleDataGamry.DTA", "exampleDataGamry.DTA")
        z.writestr("readme.txt", "not a spectrum")
    client.force_login(member)
    response = preview(client, archive)
    members = {m["name"]: m for m in response.context["members"]}
    assert response.context["is_zip"] and members["exampleDataGamry.DTA"]["status"] == "ok"
    assert members["exampleDataZPlot.z"]["n_spectra"] >= 1 and members["readme.txt"]["status"] == "rejected"
    assert "preview" in response.context["figures"]  # one Nyquist of every readable file
    assert not ImpedanceSpectrum.objects.exists()
    token = response.context["form"].initial["token"]
    done = client.post("/upload/confirm/", {"token": token, "cell": cell.pk}, follow=True)
    assert done.redirect_chain[-1][0] == f"/cells/{cell.pk}/"
    assert ImpedanceSpectrum.objects.filter(cell=cell).count() == 2
    assert "readme.txt: rejected" in done.content.decode()


def test_raw_file_download_returns_the_uploaded_bytes(client, member, cell, instrument_files, django_capture_on_commit_callbacks):
    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    with django_capture_on_commit_callbacks(execute=True):  # the raw bytes reach storage on commit
        client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
    spectrum = ImpedanceSpectrum.objects.get()
    response = client.get(f"/spectra/{spectrum.pk}/download/raw/")
    assert b"".join(response.streaming_content) == (instrument_files / "exampleDataZPlot.z").read_bytes()
    assert 'filename="exampleDataZPlot.z"' in response["Content-Disposition"]


def test_confirmed_preview_file_is_removed(client, member, cell, instrument_files):
    from django.core.files.storage import default_storage

    client.force_login(member)
    token = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    assert default_storage.exists(f"upload-previews/{token}")
    client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
    assert not default_storage.exists(f"upload-previews/{token}")


def test_stale_previews_are_swept(client, member, cell, instrument_files, settings):
    import os
    import time

    from django.core.files.storage import default_storage

    client.force_login(member)
    old = preview(client, instrument_files / "exampleDataZPlot.z").context["form"].initial["token"]
    path = default_storage.path(f"upload-previews/{old}")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(path, (two_days_ago, two_days_ago))
    preview(client, instrument_files / "exampleDataGamry.DTA")
    assert not os.path.exists(path)


def test_previews_share_a_bounded_space(client, member, cell, instrument_files, settings):
    """The oldest preview makes room for a new one; a file larger than the whole space is refused."""
    from django.core.files.storage import default_storage

    first, second = instrument_files / "exampleDataZPlot.z", instrument_files / "exampleDataGamry.DTA"
    settings.MAX_PREVIEW_STORAGE_MB = (max(first.stat().st_size, second.stat().st_size) + 10) / 1048576
    client.force_login(member)
    old = preview(client, first).context["form"].initial["token"]
    new = preview(client, second).context["form"].initial["token"]
    assert not default_storage.exists(f"upload-previews/{old}")
    assert default_storage.exists(f"upload-previews/{new}")

    settings.MAX_PREVIEW_STORAGE_MB = 100 / 1048576
    response = preview(client, first)
    assert response.status_code == 200
    assert "kept for upload previews (MAX_PREVIEW_STORAGE_MB)" in response.content.decode()


def test_upload_page_says_to_create_a_cell_first_when_user_has_none(client, outsider):
    client.force_login(outsider)
    response = client.get("/upload/")
    assert response.context["has_cells"] is False
    assert "Create a cell" in response.content.decode()


def test_several_files_picked_at_once_are_previewed_and_stored_each(client, member, cell, instrument_files):
    client.force_login(member)
    with open(instrument_files / "exampleDataZPlot.z", "rb") as a, open(instrument_files / "exampleDataGamry.DTA", "rb") as b:
        response = client.post("/upload/", {"file": [a, b]})
    assert response.status_code == 200 and not ImpedanceSpectrum.objects.exists()
    members = response.context["members"]
    assert [(m["name"], m["status"]) for m in members] == [("exampleDataZPlot.z", "ok"), ("exampleDataGamry.DTA", "ok")]
    html = response.content.decode()
    assert "exampleDataGamry.DTA" in html and "Files (2, 2 readable)" in html
    token = response.context["form"].initial["token"]
    done = client.post("/upload/confirm/", {"token": token, "cell": cell.pk}, follow=True)
    raw_names = set(ImpedanceSpectrum.objects.filter(cell=cell).values_list("raw_file__original_name", flat=True))
    assert raw_names == {"exampleDataZPlot.z", "exampleDataGamry.DTA"}
    assert "exampleDataGamry.DTA: 1 spectrum(s) stored." in done.content.decode()


@pytest.mark.parametrize("names,message", [
    (["a.z", "b.zip"], "not both (b.zip)"),
    (["same.z", "same.z"], "share the name same.z"),
])
def test_picking_files_that_cannot_go_together_is_explained(client, member, cell, names, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(member)
    response = client.post("/upload/", {"file": [SimpleUploadedFile(n, b"1,2,3\n") for n in names]})
    assert response.status_code == 200 and message in response.content.decode()
