"""Raw files reach only Django's storage API: ingest and download work on a storage with no local path."""
import io
import zipfile

import pytest
from django.core.files.storage import InMemoryStorage, default_storage
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum, RawFile
from tests.factories import CellFactory


@pytest.fixture
def object_storage(settings, tmp_path):
    """Default storage swapped for an in-memory one (like S3: no `.path`); the media folder must stay empty."""
    settings.MEDIA_ROOT = str(tmp_path / "must-stay-empty")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    yield tmp_path / "must-stay-empty"


def _assert_nothing_on_disk(media_root):
    assert not media_root.exists() or not any(media_root.rglob("*")), list(media_root.rglob("*"))


def _download_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


def test_web_upload_and_download_through_object_storage(
    client, member, group, instrument_files, object_storage, django_capture_on_commit_callbacks
):
    cell = CellFactory(group=group, visibility=Visibility.GROUP)
    client.force_login(member)
    original = (instrument_files / "exampleDataZPlot.z").read_bytes()
    upload = io.BytesIO(original)
    upload.name = "exampleDataZPlot.z"
    token = client.post("/upload/", {"file": upload}).context["form"].initial["token"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
    spectrum = ImpedanceSpectrum.objects.get()
    assert isinstance(spectrum.raw_file.file.storage._wrapped, InMemoryStorage)
    assert default_storage.exists(spectrum.raw_file.file.name)
    assert _download_bytes(client.get(f"/spectra/{spectrum.pk}/download/raw/")) == original
    _assert_nothing_on_disk(object_storage)


def test_api_zip_upload_and_download_through_object_storage(
    member, group, instrument_files, object_storage, django_capture_on_commit_callbacks
):
    cell = CellFactory(group=group, visibility=Visibility.GROUP)
    names = ["exampleDataGamry.DTA", "exampleDataBioLogic.mpt"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, (instrument_files / name).read_bytes())
    buffer.seek(0)
    buffer.name = "run.zip"
    api = APIClient()
    api.force_authenticate(member)
    with django_capture_on_commit_callbacks(execute=True):  # the raw bytes reach storage on commit
        response = api.post(reverse("api:spectrum-upload"), {"file": buffer, "cell": cell.pk}, format="multipart")
    assert response.status_code == 201, response.content
    assert RawFile.objects.count() == len(names)
    for raw in RawFile.objects.all():
        answer = api.get(reverse("api:rawfile-download", args=[raw.pk]))
        assert answer.status_code == 200
        assert _download_bytes(answer) == (instrument_files / raw.original_name).read_bytes()
    _assert_nothing_on_disk(object_storage)
