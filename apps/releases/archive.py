"""The release archive, byte for byte: a deterministic zip with a SHA-256 manifest, RO-Crate 1.1 and DataCite metadata.

Pure (no Django): the same files and metadata always give the same bytes —
members sorted by path, every timestamp fixed, one compression level, no
extra fields — so an archive can be rebuilt from what the release stored
and checked against its manifest.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: carries no build time
MANIFEST_PATH = "manifest-sha256.txt"
RO_CRATE_PATH = "ro-crate-metadata.json"
DATACITE_PATH = "datacite.json"
RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.1"

ENCODING_FORMATS = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/markdown",
}


@dataclass(frozen=True)
class Author:
    name: str
    orcid: str = ""

    @property
    def orcid_url(self) -> str:
        return f"https://orcid.org/{self.orcid}" if self.orcid else ""


@dataclass(frozen=True)
class ReleaseMeta:
    """What the metadata files say about a release."""

    identifier: str  # stable label, e.g. "lab-a/llzto-pellets v2"
    title: str
    description: str
    authors: tuple[Author, ...]
    licence_id: str
    licence_name: str
    publisher: str
    date_published: str  # ISO date
    version: int
    source_dois: tuple[str, ...] = ()
    landing_url: str = ""
    previous_version_url: str = ""
    keywords: tuple[str, ...] = field(default=("solid-state electrolyte", "impedance spectroscopy"))

    def __post_init__(self):
        if not self.authors:
            raise ValueError("A release needs at least one author.")
        if self.version < 1:
            raise ValueError("A release version starts at 1.")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encoding_format(path: str) -> str:
    for suffix, media_type in ENCODING_FORMATS.items():
        if path.endswith(suffix):
            return media_type
    return "application/octet-stream"


def ro_crate(files: dict[str, bytes], meta: ReleaseMeta) -> dict:
    """RO-Crate 1.1 metadata (JSON-LD): the root dataset, its authors (ORCID as @id) and every file with its checksum."""
    people = []
    for index, author in enumerate(meta.authors):
        person_id = author.orcid_url or f"#author-{index + 1}"
        people.append({"@id": person_id, "@type": "Person", "name": author.name})
    parts = [
        {"@id": path, "@type": "File", "name": path.rsplit("/", 1)[-1], "encodingFormat": encoding_format(path),
         "contentSize": str(len(data)), "sha256": sha256_hex(data)}
        for path, data in sorted(files.items())
    ]
    licence_url = f"https://spdx.org/licenses/{meta.licence_id}.html"
    root = {
        "@id": "./", "@type": "Dataset", "name": meta.title, "description": meta.description or meta.title,
        "identifier": meta.identifier, "version": str(meta.version), "datePublished": meta.date_published,
        "license": {"@id": licence_url}, "author": [{"@id": p["@id"]} for p in people],
        "publisher": {"@id": "#publisher"}, "keywords": list(meta.keywords),
        "hasPart": [{"@id": part["@id"]} for part in parts],
    }
    if meta.landing_url:
        root["url"] = meta.landing_url
    if meta.source_dois:
        root["citation"] = [{"@id": f"https://doi.org/{doi}"} for doi in meta.source_dois]
    graph = [
        {"@id": RO_CRATE_PATH, "@type": "CreativeWork", "conformsTo": {"@id": RO_CRATE_SPEC}, "about": {"@id": "./"}},
        root,
        {"@id": licence_url, "@type": "CreativeWork", "name": meta.licence_name, "identifier": meta.licence_id},
        {"@id": "#publisher", "@type": "Organization", "name": meta.publisher},
        *people,
        *parts,
    ]
    graph += [{"@id": f"https://doi.org/{doi}", "@type": "ScholarlyArticle", "identifier": doi}
              for doi in meta.source_dois]
    return {"@context": RO_CRATE_CONTEXT, "@graph": graph}


def datacite(meta: ReleaseMeta, *, total_bytes: int) -> dict:
    """DataCite Metadata Schema 4.x attributes (the JSON of a DOI registration) for the release."""
    creators = []
    for author in meta.authors:
        creator = {"name": author.name, "nameType": "Personal"}
        if "," in author.name:
            family, given = (part.strip() for part in author.name.split(",", 1))
            creator.update(familyName=family, givenName=given)
        creator["nameIdentifiers"] = ([{
            "nameIdentifier": author.orcid_url, "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org",
        }] if author.orcid else [])
        creators.append(creator)
    related = [{"relatedIdentifier": doi, "relatedIdentifierType": "DOI", "relationType": "IsSupplementTo"}
               for doi in meta.source_dois]
    if meta.previous_version_url:
        related.append({"relatedIdentifier": meta.previous_version_url, "relatedIdentifierType": "URL",
                        "relationType": "IsNewVersionOf"})
    return {
        "schemaVersion": "http://datacite.org/schema/kernel-4",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Impedance spectra and benchmark results"},
        "creators": creators,
        "titles": [{"title": meta.title}],
        "publisher": {"name": meta.publisher},
        "publicationYear": int(meta.date_published[:4]),
        "dates": [{"date": meta.date_published, "dateType": "Issued"}],
        "version": str(meta.version),
        "descriptions": [{"description": meta.description or meta.title, "descriptionType": "Abstract"}],
        "rightsList": [{
            "rights": meta.licence_name, "rightsUri": f"https://spdx.org/licenses/{meta.licence_id}.html",
            "rightsIdentifier": meta.licence_id.lower(), "rightsIdentifierScheme": "SPDX",
            "schemeUri": "https://spdx.org/licenses/",
        }],
        "subjects": [{"subject": keyword} for keyword in meta.keywords],
        "relatedIdentifiers": related,
        "sizes": [f"{total_bytes} bytes"],
        "formats": ["application/zip"],
        "url": meta.landing_url,
        "alternateIdentifiers": [{"alternateIdentifier": meta.identifier, "alternateIdentifierType": "Local"}],
    }


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def archive_members(files: dict[str, bytes], meta: ReleaseMeta) -> dict[str, bytes]:
    """`files` plus the RO-Crate, the DataCite JSON and the SHA-256 manifest of all of them."""
    members = dict(files)
    members[RO_CRATE_PATH] = _json_bytes(ro_crate(files, meta))
    members[DATACITE_PATH] = _json_bytes(datacite(meta, total_bytes=sum(len(d) for d in files.values())))
    members[MANIFEST_PATH] = "".join(
        f"{sha256_hex(data)}  {path}\n" for path, data in sorted(members.items())
    ).encode()
    return members


def manifest_of(members: dict[str, bytes]) -> dict[str, str]:
    return {path: sha256_hex(data) for path, data in sorted(members.items())}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of `members` that depends on nothing but their paths and bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(members):
            info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[path], compresslevel=6)
    return buffer.getvalue()


def build_archive(files: dict[str, bytes], meta: ReleaseMeta) -> tuple[bytes, dict[str, str]]:
    """(zip bytes, manifest path → SHA-256) of a release's files and metadata."""
    members = archive_members(files, meta)
    return zip_bytes(members), manifest_of(members)
