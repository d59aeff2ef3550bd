"""Writes of releases: publish (snapshot, frozen numbers, archive), rebuild check, retraction.

Publication happens in one transaction: the records are checked (the
publisher's group owns them and the publisher sees them), widened to what
they depend on, made public (a visibility change, in the audit trail), their
standard-protocol fits and benchmark entries copied into the release, and the
archive written once through Django's storage API. Later uploads and re-fits
change the live rows, never the release.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import ResearchGroup, Visibility
from apps.accounts.selectors import can_edit, groups_of, visible_q
from apps.analysis.models import Conductivity
from apps.benchmarks import selectors as benchmark_selectors
from apps.benchmarks.bundles import (
    ENTRY_UNCERTAINTIES,
    FIT_PARAMETER_UNCERTAINTIES,
    _entry_json,
    _fit_json,
    _protocol_json,
    conductivity_row,
)
from apps.benchmarks.models import BenchmarkEntry
from apps.catalog.models import Cell, Separator
from apps.catalog.services import normalise_doi
from apps.common.audit import log_event
from apps.common.rounding import rounded_row
from apps.measurements.exports import spectrum_csv, spectrum_metadata
from apps.measurements.models import ImpedanceSpectrum, RawFile

from . import archive
from .identifiers import normalise_orcid, spdx_licence
from .models import DEFAULT_LICENCE, RecordKind, Release, ReleasedEntry, ReleaseRecord, Retraction

PUBLISHER = "assbdb"
ENTRY_CSV_COLUMNS = [
    "entry_id", "metric", "separator_id", "separator", "cell_id", "cell", "family", "value", "unit", "stderr",
    "ci_low", "ci_high", "temperature_c", "stack_pressure_mpa", "thickness_um", "method", "protocol",
    "completeness_score", "flags", "blocking", "computed_at",
]
FIT_CSV_COLUMNS = ["fit_id", "spectrum_id", "protocol", "status", "chi_square", "parameter", "value", "stderr"]
CONDUCTIVITY_CSV_COLUMNS = [
    "fit_id", "spectrum_id", "kind", "resistance_ohm", "resistance_stderr_ohm", "conductivity_s_per_cm",
    "conductivity_stderr_s_per_cm", "temperature_c", "thickness_um", "area_cm2",
]


@dataclass(frozen=True)
class ReleaseRecords:
    """The rows a release holds, widened to what they depend on."""

    separators: list[Separator]
    cells: list[Cell]
    spectra: list[ImpedanceSpectrum]


# --------------------------------------------------------------------------- validation


def clean_authors(authors) -> list[dict]:
    """[{"name", "orcid"}] with ORCID iDs normalised; ValidationError naming the author and the problem."""
    if not authors:
        raise ValidationError({"authors": "A release needs at least one author."})
    cleaned, errors = [], []
    for index, author in enumerate(authors, start=1):
        name = str((author or {}).get("name", "")).strip()
        orcid = str((author or {}).get("orcid", "") or "").strip()
        if not name:
            errors.append(f"Author {index}: a name is required.")
            continue
        try:
            orcid = normalise_orcid(orcid) if orcid else ""
        except ValueError as exc:
            errors.append(f"Author {index} ({name}): {exc}")
            continue
        cleaned.append({"name": name, "orcid": orcid})
    if errors:
        raise ValidationError({"authors": errors})
    return cleaned


def clean_licence(licence: str) -> str:
    try:
        return spdx_licence(licence or DEFAULT_LICENCE).id
    except ValueError as exc:
        raise ValidationError({"licence": str(exc)}) from None


def clean_dois(dois) -> list[str]:
    cleaned, errors = [], []
    for doi in dois or []:
        value = normalise_doi(str(doi))
        if not value:
            continue
        if not value.startswith("10.") or "/" not in value:
            errors.append(f"{doi!r} is not a DOI (expected 10.<registrant>/<suffix>).")
        elif value not in cleaned:
            cleaned.append(value)
    if errors:
        raise ValidationError({"source_dois": errors})
    return cleaned


def _chosen(model, ids, *, user, group: ResearchGroup, field: str, noun: str) -> list:
    ids = sorted({int(i) for i in ids or []})
    found = {row.pk: row for row in model._default_manager.filter(visible_q(user), pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise PermissionDenied(f"You cannot see {noun} {', '.join(map(str, missing))}: it cannot be released.")
    foreign = [i for i in ids if found[i].group_id != group.pk]
    if foreign:
        raise ValidationError({field: f"{noun.capitalize()} {', '.join(map(str, foreign))} belong(s) to another "
                                      f"group than {group.name}; a group releases only its own records."})
    return [found[i] for i in ids]


def collect_records(*, user, group: ResearchGroup, separator_ids=(), cell_ids=(), spectrum_ids=()) -> ReleaseRecords:
    """The chosen records plus what they depend on: a separator's cells, a cell's spectra and separator, a
    spectrum's cell. Only rows of `group` that `user` sees are added."""
    separators = _chosen(Separator, separator_ids, user=user, group=group, field="separators", noun="separator")
    cells = _chosen(Cell, cell_ids, user=user, group=group, field="cells", noun="cell")
    spectra = _chosen(ImpedanceSpectrum, spectrum_ids, user=user, group=group,
                      field="spectra", noun="spectrum")
    if not (separators or cells or spectra):
        raise ValidationError({"records": "Choose at least one separator, cell or spectrum to release."})
    own = visible_q(user) & Q(group=group)
    separator_ids = {s.pk for s in separators}
    whole_cells = {c.pk for c in cells} | set(Cell.objects.filter(own).filter(
        Q(separator__in=separator_ids) | Q(layers__separator__in=separator_ids)).values_list("pk", flat=True))
    cell_ids = whole_cells | {s.cell_id for s in spectra}
    separator_ids |= set(Cell.objects.filter(own, pk__in=cell_ids, separator__isnull=False,
                                             separator__group=group).values_list("separator_id", flat=True))
    spectrum_q = Q(pk__in=[s.pk for s in spectra]) | Q(cell__in=whole_cells)
    return ReleaseRecords(
        separators=list(Separator.objects.filter(own, pk__in=separator_ids).order_by("pk")),
        cells=list(Cell.objects.filter(own, pk__in=cell_ids).order_by("pk")),
        spectra=list(ImpedanceSpectrum.objects.filter(own).filter(spectrum_q).select_related(
            "cell", "cell__separator", "raw_file").order_by("pk")),
    )


def _refuse_retracted(records: ReleaseRecords) -> None:
    pairs = [(RecordKind.SEPARATOR, r) for r in records.separators] + [
        (RecordKind.CELL, r) for r in records.cells] + [(RecordKind.SPECTRUM, r) for r in records.spectra]
    retracted = set(Retraction.objects.values_list("kind", "object_id"))
    names = [f"{kind.label.lower()} {row}" for kind, row in pairs if (kind.value, row.pk) in retracted]
    if names:
        raise ValidationError({"records": f"Retracted records cannot be released again: {', '.join(names)}."})


# --------------------------------------------------------------------------- the frozen files


def _rows_json(rows) -> list[dict]:
    out = []
    for row in rows:
        item = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields
                if f.name not in ("data", "frequency_grid")}
        out.append(item)
    return out


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _csv(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in columns})
    return out.getvalue()


def _entry_row(entry: BenchmarkEntry) -> dict:
    return rounded_row({
        "entry_id": entry.pk, "metric": entry.metric, "separator_id": entry.separator_id,
        "separator": entry.separator.name if entry.separator_id else "", "cell_id": entry.cell_id,
        "cell": entry.cell.name if entry.cell_id else "", "family": entry.family, "value": entry.value,
        "unit": entry.unit, "stderr": entry.stderr, "ci_low": entry.ci_low, "ci_high": entry.ci_high,
        "temperature_c": entry.temperature_c, "stack_pressure_mpa": entry.stack_pressure_mpa,
        "thickness_um": entry.thickness_um, "method": entry.method,
        "protocol": f"{entry.protocol.name} v{entry.protocol.version}" if entry.protocol_id else "",
        "completeness_score": entry.completeness_score, "flags": ";".join(entry.flags), "blocking": entry.blocking,
        "computed_at": entry.computed_at.isoformat(),
    }, ENTRY_UNCERTAINTIES)


def frozen_files(records: ReleaseRecords, entries: list[BenchmarkEntry], *, readme: str, user) -> dict[str, str]:
    """The text files of the archive (path → text), computed now from the live rows as the publisher sees them
    (every record a released spectrum or cell describes is published with it)."""
    fits = benchmark_selectors.standard_fits(records.spectra)
    fit_list = [fits[s.pk] for s in records.spectra if s.pk in fits]
    fits_json = [_fit_json(fit) for fit in fit_list]
    # Numbers are rounded to their standard errors, as on the pages (apps.common.rounding.rounded_row).
    fit_rows = [
        rounded_row({"fit_id": fit.pk, "spectrum_id": fit.spectrum_id,
                     "protocol": f"{fit.protocol.name} v{fit.protocol.version}", "status": fit.status,
                     "chi_square": fit.chi_square, "parameter": name, "value": value,
                     "stderr": (fit.stderr or {}).get(name)}, FIT_PARAMETER_UNCERTAINTIES)
        for fit in fit_list for name, value in sorted((fit.parameters or {}).items())
    ]
    conductivity_rows = [
        {"fit_id": c.fit_id, "spectrum_id": c.spectrum_id, **conductivity_row(c)}
        for c in Conductivity.objects.filter(fit__in=[f.pk for f in fit_list]).order_by("fit_id", "kind", "pk")
    ]
    protocols = {fit.protocol.pk: fit.protocol for fit in fit_list}
    viewed = benchmark_selectors.details_for_viewer(entries, user, whole=True)  # an entry's details name no record hidden from `user`
    files = {
        "README.md": readme,
        "records/separators.json": _dumps(_rows_json(records.separators)),
        "records/separator_components.json": _dumps(
            [_rows_json(s.components.order_by("pk")) for s in records.separators]),
        "records/cells.json": _dumps(_rows_json(records.cells)),
        "records/cell_layers.json": _dumps([_rows_json(c.layers.order_by("pk")) for c in records.cells]),
        "records/pressure_steps.json": _dumps([_rows_json(c.pressure_steps.order_by("pk")) for c in records.cells]),
        "records/spectra.json": _dumps([spectrum_metadata(s, user=user) for s in records.spectra]),
        "protocols.json": _dumps([_protocol_json(p) for _, p in sorted(protocols.items())]),
        "fits.json": _dumps(fits_json),
        "fits.csv": _csv(FIT_CSV_COLUMNS, fit_rows),
        "conductivities.csv": _csv(CONDUCTIVITY_CSV_COLUMNS, conductivity_rows),
        "entries.json": _dumps([_entry_json(e, viewed[e.pk]) for e in entries]),
        "entries.csv": _csv(ENTRY_CSV_COLUMNS, [_entry_row(e) for e in entries]),
    }
    for spectrum in records.spectra:
        files[f"spectra/spectrum-{spectrum.pk}.csv"] = spectrum_csv(spectrum, user=user)
    return files


def _raw_path(raw: RawFile) -> str:
    name = raw.original_name.replace("/", "_").replace("\\", "_") or "raw"
    return f"raw/{raw.sha256[:12]}-{name}"


def release_meta(release: Release) -> archive.ReleaseMeta:
    meta = release.snapshot["meta"]
    return archive.ReleaseMeta(
        identifier=meta["identifier"], title=meta["title"], description=meta["description"],
        authors=tuple(archive.Author(a["name"], a.get("orcid", "")) for a in meta["authors"]),
        licence_id=meta["licence_id"], licence_name=meta["licence_name"], publisher=meta["publisher"],
        date_published=meta["date_published"], version=meta["version"], source_dois=tuple(meta["source_dois"]),
        landing_url=meta["landing_url"], previous_version_url=meta["previous_version_url"],
    )


def archive_files(release: Release) -> dict[str, bytes]:
    """The files of a release as stored: frozen text files and raw files read back through storage."""
    files = {path: text.encode() for path, text in release.snapshot["text_files"].items()}
    for raw in release.snapshot["raw_files"]:
        with default_storage.open(raw["storage_name"], "rb") as handle:
            data = handle.read()
        if archive.sha256_hex(data) != raw["sha256"]:
            raise ValidationError(f"Raw file {raw['path']} no longer matches its SHA-256 {raw['sha256']}.")
        files[raw["path"]] = data
    return files


def rebuild_archive(release: Release) -> tuple[bytes, dict[str, str]]:
    """The archive rebuilt from what the release stored: the same bytes as the published one."""
    return archive.build_archive(archive_files(release), release_meta(release))


def suggested_citation(*, authors: list[dict], year: int, title: str, version: int, group: ResearchGroup,
                       url: str) -> str:
    names = ", ".join(a["name"] for a in authors)
    return f"{names} ({year}). {title} (version {version}) [Data set]. {group.name}, {PUBLISHER}. {url}".strip()


# --------------------------------------------------------------------------- publish


def _next_dataset_key(group: ResearchGroup, title: str) -> str:
    base = slugify(title)[:70] or "dataset"
    key, n = base, 2
    while Release.objects.filter(group=group, dataset_key=key).exists():
        key, n = f"{base}-{n}", n + 1
    return key


def _make_public(rows, *, user, release_label: str) -> None:
    for row in rows:
        if row.visibility != Visibility.PUBLIC or row.embargo_until is not None:
            row.visibility, row.embargo_until = Visibility.PUBLIC, None
            row.save(update_fields=["visibility", "embargo_until", "updated_at"])
        log_event(row, user=user, event="release", changes={"release": [None, release_label]})


@transaction.atomic
def release_publish(*, user, group: ResearchGroup, title: str, authors, description: str = "",
                    licence: str = DEFAULT_LICENCE, source_dois=(), separator_ids=(), cell_ids=(), spectrum_ids=(),
                    previous: Release | None = None, base_url: str = "") -> Release:
    """Publish a release of `group`'s records (a new version of `previous`'s dataset when given).

    Raises PermissionDenied when `user` is not a member of `group` or cannot see a chosen record, and
    ValidationError naming the field for a bad licence, ORCID, DOI, title or record choice.
    """
    if not (user.is_authenticated and (user.is_superuser or groups_of(user).filter(pk=group.pk).exists())):
        raise PermissionDenied(f"Only members of {group.name} can publish its releases.")
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A release needs a title."})
    authors = clean_authors(authors)
    licence_id = clean_licence(licence)
    dois = clean_dois(source_dois)
    if previous is not None and previous.group_id != group.pk:
        raise ValidationError({"previous": "A new version continues a dataset of the same group."})
    records = collect_records(user=user, group=group, separator_ids=separator_ids, cell_ids=cell_ids,
                              spectrum_ids=spectrum_ids)
    _refuse_retracted(records)

    now = timezone.now()
    dataset_key = previous.dataset_key if previous else _next_dataset_key(group, title)
    version = (Release.objects.filter(group=group, dataset_key=dataset_key).order_by("-version")
               .values_list("version", flat=True).first() or 0) + 1
    release = Release(group=group, dataset_key=dataset_key, version=version, title=title,
                      description=(description or "").strip(), authors=authors, licence=licence_id,
                      source_dois=dois, published_at=now, created_by=user if user.is_authenticated else None,
                      citation="")
    release.save()
    from django.urls import reverse

    landing_url = base_url.rstrip("/") + reverse("releases:detail", args=[release.pk])
    previous_release = previous or Release.objects.filter(group=group, dataset_key=dataset_key,
                                                          version=version - 1).first()
    previous_url = (base_url.rstrip("/") + reverse("releases:detail", args=[previous_release.pk])
                    if previous_release else "")
    release.citation = suggested_citation(authors=authors, year=now.year, title=title, version=version, group=group,
                                          url=landing_url)

    entries = list(BenchmarkEntry.objects.filter(
        Q(separator__in=[s.pk for s in records.separators], cell__isnull=True)
        | Q(cell__in=[c.pk for c in records.cells])
    ).select_related("separator", "cell", "protocol").order_by("metric", "pk"))
    label = f"{group.slug}/{dataset_key} v{version}"
    readme = (f"# {title} (version {version})\n\n{release.description}\n\nCite as: {release.citation}\n\n"
              f"Licence: {licence_id}. Published {now.date().isoformat()} by {group.name}.\n"
              "Every file is listed with its SHA-256 in manifest-sha256.txt; ro-crate-metadata.json (RO-Crate 1.1) "
              "and datacite.json describe the dataset.\n"
              "Numbers in fits, conductivities and entries that have a standard error are rounded to it: the error "
              "to two significant digits, the value and its 95 % interval to the same decimal place; numbers "
              "without one, and the spectra, keep full precision.\n")
    raw_files = sorted({s.raw_file.pk: s.raw_file for s in records.spectra if s.raw_file_id}.values(),
                       key=lambda r: r.pk)
    release.snapshot = {
        "meta": {
            "identifier": label, "title": title, "description": release.description, "authors": authors,
            "licence_id": licence_id, "licence_name": spdx_licence(licence_id).name, "publisher": PUBLISHER,
            "date_published": now.date().isoformat(), "version": version, "source_dois": dois,
            "landing_url": landing_url, "previous_version_url": previous_url,
        },
        "text_files": frozen_files(records, entries, readme=readme, user=user),
        "raw_files": [{"path": _raw_path(r), "storage_name": r.file.name, "sha256": r.sha256,
                       "size": r.size_bytes} for r in raw_files],
    }
    ReleaseRecord.objects.bulk_create(
        [ReleaseRecord(release=release, kind=RecordKind.SEPARATOR, object_id=s.pk, name=s.name[:300])
         for s in records.separators]
        + [ReleaseRecord(release=release, kind=RecordKind.CELL, object_id=c.pk, name=c.name[:300])
           for c in records.cells]
        + [ReleaseRecord(release=release, kind=RecordKind.SPECTRUM, object_id=s.pk, name=str(s)[:300])
           for s in records.spectra]
    )
    ReleasedEntry.objects.bulk_create([_released_entry(release, e) for e in entries])
    _make_public([*records.separators, *records.cells, *records.spectra, *raw_files], user=user,
                 release_label=label)

    data, manifest = rebuild_archive(release)
    name = default_storage.save(f"releases/{group.slug}/{dataset_key}-v{version}.zip", ContentFile(data))
    release.archive.name = name
    release.archive_sha256 = archive.sha256_hex(data)
    release.archive_size_bytes = len(data)
    release.manifest = manifest
    release.save()
    return release


def _released_entry(release: Release, entry: BenchmarkEntry) -> ReleasedEntry:
    return ReleasedEntry(
        release=release, entry=entry, separator_id=entry.separator_id, cell_id=entry.cell_id, metric=entry.metric,
        family=entry.family, value=entry.value, unit=entry.unit, stderr=entry.stderr, ci_low=entry.ci_low,
        ci_high=entry.ci_high, temperature_c=entry.temperature_c, stack_pressure_mpa=entry.stack_pressure_mpa,
        thickness_um=entry.thickness_um, method=entry.method,
        protocol_label=f"{entry.protocol.name} v{entry.protocol.version}" if entry.protocol_id else "",
        completeness_score=entry.completeness_score, missing_items=list(entry.missing_items),
        flags=list(entry.flags), blocking=entry.blocking, details=dict(entry.details),
        record_ids=dict(entry.record_ids), computed_at=entry.computed_at,
    )


# --------------------------------------------------------------------------- retract

RETRACTABLE = {RecordKind.SEPARATOR: Separator, RecordKind.CELL: Cell, RecordKind.SPECTRUM: ImpedanceSpectrum}


@transaction.atomic
def record_retract(*, user, record, reason: str) -> Retraction:
    """Retract a released separator, cell or spectrum: its numbers leave the leaderboards now; pages stay."""
    kind = next((k for k, model in RETRACTABLE.items() if isinstance(record, model)), None)
    if kind is None:
        raise ValidationError({"record": f"A {type(record).__name__} is not released and cannot be retracted."})
    if not can_edit(record, user):
        raise PermissionDenied(f"Only members of {record.group.name} can retract its records.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the record is retracted: the reason is shown with it."})
    release = Release.objects.filter(records__kind=kind, records__object_id=record.pk).order_by("-pk").first()
    if release is None:
        raise ValidationError({"record": f"{kind.label} {record} is not in any release: delete it instead."})
    if Retraction.objects.filter(kind=kind, object_id=record.pk).exists():
        raise ValidationError({"record": f"{kind.label} {record} is already retracted."})
    retraction = Retraction.objects.create(kind=kind, object_id=record.pk, name=str(record)[:300],
                                           group_id=record.group_id, reason=reason,
                                           retracted_by=user if user.is_authenticated else None)
    log_event(record, user=user, event="retract", changes={"retraction": [None, reason]})
    return retraction
