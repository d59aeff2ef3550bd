"""Damaged zips, malformed JSON and oversized input answer 400/413 naming the file or field: never a 500.

Seeded, so a failure replays: 150 corruptions (truncations, byte flips, header fields changed) of one zip
of real instrument files go through the API upload and the web upload; malformed, deep and huge JSON
bodies go to the bulk endpoint.
"""
import io
import json
import random
import zipfile

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum
from tests.factories import CellFactory, rc_spectrum

pytestmark = pytest.mark.django_db

SEED = 17
N_ZIPS = 150
MEMBERS = ["exampleDataZPlot.z", "exampleDataGamry.DTA", "exampleDataBioLogic.mpt", "exampleDataBioLogic.mpr"]


@pytest.fixture(autouse=True)
def _no_analysis(monkeypatch):
    monkeypatch.setattr("apps.analysis.services.queue_analysis", lambda **kwargs: [])


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.GROUP)


@pytest.fixture
def api(member):
    client = APIClient()
    client.force_authenticate(member)
    return client


def _real_zip(instrument_files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in MEMBERS:
            archive.write(instrument_files / name, arcname=f"run/{name}")
    return buffer.getvalue()


def _corrupt(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    kind = rng.choice(["truncate", "flip", "flip-many", "header", "central"])
    if kind == "truncate":
        return bytes(data[: rng.randrange(1, len(data))])
    if kind in ("flip", "flip-many"):
        for _ in range(1 if kind == "flip" else rng.randrange(2, 40)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    # Local or central header fields: version needed, flags, compression method, sizes, offsets.
    starts = [i for i in range(len(data) - 4) if data[i : i + 4] in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06")]
    if kind == "central":
        starts = [i for i in starts if data[i : i + 4] != b"PK\x03\x04"] or starts
    start = rng.choice(starts)
    offset = start + rng.randrange(4, 46)
    data[offset % len(data)] = rng.randrange(256)
    return bytes(data)


@pytest.fixture
def damaged_zips(instrument_files):
    rng = random.Random(SEED)
    original = _real_zip(instrument_files)
    return [(f"damaged-{i:03d}.zip", _corrupt(original, rng)) for i in range(N_ZIPS)]


def _assert_names_a_file(body: dict, filename: str):
    error = body["error"]
    assert error["status"] == 400
    text = json.dumps(error["fields"])
    assert filename in text or any(member in text for member in MEMBERS), error


def test_damaged_zips_through_the_api_upload(api, cell, damaged_zips):
    statuses = {}
    for filename, data in damaged_zips:
        upload = io.BytesIO(data)
        upload.name = filename
        response = api.post("/api/v1/spectra/upload/", {"file": upload, "cell": cell.pk}, format="multipart")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 201, 400), (filename, response.status_code, response.content[:500])
        if response.status_code == 400:
            _assert_names_a_file(response.json(), filename)
        else:
            for row in response.json()["files"]:
                assert row["status"] in ("accepted", "duplicate") or row["reason"], row
    assert statuses.get(400, 0) > 0  # the corruptions do damage; some are refused outright


def test_damaged_zips_through_the_web_upload(client, member, cell, damaged_zips):
    client.force_login(member)
    for filename, data in damaged_zips[:60]:
        upload = io.BytesIO(data)
        upload.name = filename
        response = client.post("/upload/", {"file": upload})
        assert response.status_code == 200, (filename, response.status_code)
        form = response.context["form"]
        token = form.initial.get("token") if hasattr(form, "initial") else None
        if token is None:
            assert filename in response.content.decode()  # step 1 refused it, naming the file
            continue
        response = client.post("/upload/confirm/", {"token": token, "cell": cell.pk})
        assert response.status_code in (200, 302), (filename, response.status_code)


def _bulk(api, body: bytes | str):
    return api.generic("POST", "/api/v1/spectra/bulk/", body, content_type="application/json")


def _spectrum_item(**extra):
    f, z = rc_spectrum()
    return {"frequencies_hz": list(f), "z_real_ohm": list(z.real), "z_imag_ohm": list(z.imag), **extra}


@pytest.mark.parametrize(
    "body, field",
    [
        (b"{", "non_field_errors"),
        (b'{"cell": 1, "spectra": [', "non_field_errors"),
        (b"\xff\xfe\x00{", "non_field_errors"),
        (b"[1, 2]", "non_field_errors"),
        (b'"text"', "non_field_errors"),
        (b"NaN", "non_field_errors"),
        (b"[" * 5000 + b"]" * 5000, "non_field_errors"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "non_field_errors"),
        (b'{"cell": "x", "spectra": "y"}', "cell"),
        (b'{"cell": 1, "spectra": [{"frequencies_hz": {"a": 1}}]}', "spectra[0].frequencies_hz"),
    ],
    ids=["open", "truncated", "bad-utf8", "array", "string", "nan", "deep-array", "deep-object", "types", "object-list"],
)
def test_malformed_json_bodies_are_400(api, cell, body, field):
    response = _bulk(api, body)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] in ("parse_error", "invalid")
    if field != "non_field_errors":
        assert any(key.startswith(field) for key in error["fields"]), error


def test_huge_json_body_is_413_before_it_is_read(api, cell, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"cell": cell.pk, "spectra": [_spectrum_item(label="x" * (2 * 1024 * 1024))]})
    response = _bulk(api, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_declared_gigabyte_upload_is_413_without_reading(api, cell):
    response = api.generic(
        "POST", "/api/v1/spectra/upload/", b"--x--", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(1100 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "MAX_UPLOAD_MB" in response.json()["error"]["message"]


def test_nested_metadata_is_bounded_so_every_stored_spectrum_renders(api, cell, settings):
    deep = {}
    node = deep
    for _ in range(20):  # within the body's depth limit, beyond the metadata's
        node["a"] = {}
        node = node["a"]
    response = _bulk(api, json.dumps({"cell": cell.pk, "spectra": [_spectrum_item(metadata=deep)]}))
    assert response.status_code == 400
    assert "spectra[0].metadata" in response.json()["error"]["fields"]
    assert "levels deep" in response.json()["error"]["fields"]["spectra[0].metadata"][0]

    shallow = {"a": {"b": {"c": [1, 2, {"d": "e"}]}}}
    response = _bulk(api, json.dumps({"cell": cell.pk, "spectra": [_spectrum_item(metadata=shallow)]}))
    assert response.status_code == 201, response.content[:300]
    spectrum_id = response.json()[0]["id"]
    detail = api.get(f"/api/v1/spectra/{spectrum_id}/")
    assert detail.status_code == 200 and detail.json()["metadata"] == shallow


def test_too_many_points_are_refused_with_the_count(api, cell, settings, instrument_files):
    settings.MAX_SPECTRUM_POINTS = 30
    item = _spectrum_item()
    n = len(item["frequencies_hz"])
    assert n > 30
    response = _bulk(api, json.dumps({"cell": cell.pk, "spectra": [item]}))
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["spectra[0].frequencies_hz"][0]
    assert f"{n} points" in message and "at most 30" in message

    settings.MAX_SPECTRUM_POINTS = 10  # the file has more
    with open(instrument_files / "exampleDataZPlot.z", "rb") as handle:
        response = api.post("/api/v1/spectra/upload/", {"file": handle, "cell": cell.pk}, format="multipart")
    assert response.status_code == 400
    assert "exampleDataZPlot.z" in json.dumps(response.json()) and "MAX_SPECTRUM_POINTS" in json.dumps(response.json())
    assert not ImpedanceSpectrum.objects.exists()


def test_repeated_frequencies_in_json_are_refused_with_their_indices(api, cell):
    item = _spectrum_item()
    item["frequencies_hz"][7] = item["frequencies_hz"][3]
    response = _bulk(api, json.dumps({"cell": cell.pk, "spectra": [item]}))
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["spectra[0].frequencies_hz"][0]
    assert "index 7 repeats" in message and "of index 3" in message and "not merged" in message


@pytest.mark.parametrize(
    "conditions", ["[1,2]", "notjson", '{"temperature_c": {"a": 1}}', "[" * 3000, '{"a": ' * 3000, "null"]
)
def test_conditions_that_are_not_a_flat_object_are_400(api, cell, instrument_files, conditions):
    with open(instrument_files / "exampleDataZPlot.z", "rb") as handle:
        response = api.post(
            "/api/v1/spectra/upload/", {"file": handle, "cell": cell.pk, "conditions": conditions}, format="multipart"
        )
    assert response.status_code == 400, response.content[:300]
    assert "conditions" in response.json()["error"]["fields"]


def test_upload_to_a_foreign_cell_is_refused_before_the_body_is_read(outsider, cell, instrument_files):
    client = APIClient()
    client.force_authenticate(outsider)
    with open(instrument_files / "exampleDataZPlot.z", "rb") as handle:
        response = client.post(f"/api/v1/spectra/upload/?cell={cell.pk}", {"file": handle}, format="multipart")
    assert response.status_code in (403, 404)
    assert "_files" not in response.wsgi_request.__dict__


def test_upload_by_a_user_in_no_group_is_refused_before_the_body_is_read(cell, instrument_files):
    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory())
    with open(instrument_files / "exampleDataZPlot.z", "rb") as handle:
        response = client.post("/api/v1/spectra/upload/", {"file": handle, "cell": cell.pk}, format="multipart")
    assert response.status_code == 403
    assert "_files" not in response.wsgi_request.__dict__
