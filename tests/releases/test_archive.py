"""The archive is a pure function of its files and metadata: same input, same bytes."""
import io
import json
import zipfile

import pytest

from apps.releases.archive import Author, ReleaseMeta, build_archive, sha256_hex

META = ReleaseMeta(
    identifier="lab/llzto v1", title="LLZTO pellets", description="Blocking-electrode EIS.",
    authors=(Author("Carberry, Josiah", "0000-0002-1825-0097"), Author("Doe, Jane")), licence_id="CC-BY-4.0",
    licence_name="Creative Commons Attribution 4.0 International", publisher="assbdb", date_published="2026-11-30",
    version=1, source_dois=("10.1021/acs.chemmater.6b00579",), landing_url="http://testserver/releases/1/",
)
FILES = {"spectra/spectrum-1.csv": b"frequency_hz,z_real_ohm,z_imag_ohm\n1,2,3\n", "raw/ab-file.mpr": b"\x00\x01raw",
         "entries.json": b"[]\n"}


def test_same_files_give_the_same_bytes_in_any_order():
    first, manifest = build_archive(FILES, META)
    second, _ = build_archive(dict(reversed(list(FILES.items()))), META)
    assert first == second
    members = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert members == sorted(members)
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zipfile.ZipFile(io.BytesIO(first)).infolist())
    assert manifest["raw/ab-file.mpr"] == sha256_hex(b"\x00\x01raw")


def test_manifest_lists_every_member_with_its_sha256():
    data, manifest = build_archive(FILES, META)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert set(manifest) == set(archive.namelist())
    lines = archive.read("manifest-sha256.txt").decode().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    for path in archive.namelist():
        if path != "manifest-sha256.txt":
            assert listed[path] == sha256_hex(archive.read(path))


def test_ro_crate_describes_root_authors_and_every_file():
    archive = zipfile.ZipFile(io.BytesIO(build_archive(FILES, META)[0]))
    crate = json.loads(archive.read("ro-crate-metadata.json"))
    assert crate["@context"] == "https://w3id.org/ro/crate/1.1/context"
    graph = {node["@id"]: node for node in crate["@graph"]}
    assert graph["ro-crate-metadata.json"]["conformsTo"]["@id"] == "https://w3id.org/ro/crate/1.1"
    root = graph["./"]
    assert root["@type"] == "Dataset" and root["name"] == META.title and root["datePublished"] == "2026-11-30"
    assert root["license"]["@id"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert {"@id": "https://orcid.org/0000-0002-1825-0097"} in root["author"]
    assert {part["@id"] for part in root["hasPart"]} == set(FILES)
    spectrum = graph["spectra/spectrum-1.csv"]
    assert spectrum["encodingFormat"] == "text/csv"
    assert spectrum["contentSize"] == str(len(FILES["spectra/spectrum-1.csv"]))
    assert spectrum["sha256"] == sha256_hex(FILES["spectra/spectrum-1.csv"])


def test_datacite_metadata_is_ready_for_a_doi():
    archive = zipfile.ZipFile(io.BytesIO(build_archive(FILES, META)[0]))
    dc = json.loads(archive.read("datacite.json"))
    assert dc["types"]["resourceTypeGeneral"] == "Dataset"
    assert dc["titles"] == [{"title": "LLZTO pellets"}]
    assert dc["publisher"] == {"name": "assbdb"} and dc["publicationYear"] == 2026 and dc["version"] == "1"
    carberry = dc["creators"][0]
    assert carberry["familyName"] == "Carberry" and carberry["givenName"] == "Josiah"
    assert carberry["nameIdentifiers"][0] == {"nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
                                              "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}
    assert dc["creators"][1]["nameIdentifiers"] == []
    assert dc["rightsList"][0]["rightsIdentifier"] == "cc-by-4.0"
    assert dc["relatedIdentifiers"] == [{"relatedIdentifier": "10.1021/acs.chemmater.6b00579",
                                         "relatedIdentifierType": "DOI", "relationType": "IsSupplementTo"}]


def test_a_release_needs_an_author():
    with pytest.raises(ValueError, match="at least one author"):
        ReleaseMeta(**{**META.__dict__, "authors": ()})
