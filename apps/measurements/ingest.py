"""Writes of instrument files: one file, a zip of files, or files on disk; and the parse-only preview.

Every entry point stores all or nothing: the rows of one upload are written
in one transaction, and the raw file's bytes reach the storage only once that
transaction commits, so a failed ingest leaves neither rows nor a file behind.
Analysis is queued on commit through ``apps.analysis.services.queue_analysis``.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import logging
import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from apps.accounts.models import ResearchGroup
from apps.accounts.references import PRIVATE_LABEL
from apps.catalog.models import Cell

from .grids import share_frequency_grids
from .models import ImpedanceSpectrum, RawFile, raw_file_path
from .parsers import PARSER_VERSION, ParsedSpectrum, ParseError, parse
from .selectors import visible_raw_files, visible_spectra
from .validation import (
    IngestError,
    _build_spectrum,
    _check_can_write,
    _check_size,
    _clean_conditions,
    _max_upload_bytes,
    _queue_analysis_on_commit,
    _resolve_ownership,
    _without_filename,
    validate_arrays,
)

logger = logging.getLogger(__name__)

# Zip-bomb guards; each can be overridden in settings.
DEFAULT_MAX_ZIP_MEMBERS = 2000
DEFAULT_MAX_ZIP_UNCOMPRESSED_MB = 500

@dataclass
class IngestReport:
    """What one uploaded file became.

    ``duplicate``: the group already had these bytes, nothing was written and ``created`` lists the spectra that
    hold them; ``explanation`` then says where they are and what of the request was not applied. ``attached``:
    the bytes were stored already and, as asked (``attach=True``), new spectra of that raw file were created on
    the named cell.
    """

    created: list[ImpedanceSpectrum]
    duplicate: bool
    raw_file: RawFile | None
    attached: bool = False
    explanation: str = ""


@dataclass
class FileOutcome:
    name: str
    status: str  # "accepted" | "duplicate" | "rejected"
    reason: str = ""
    spectra: list[ImpedanceSpectrum] = field(default_factory=list)
    raw_file: RawFile | None = None
    attached: bool = False

    @classmethod
    def from_report(cls, name: str, report: IngestReport) -> "FileOutcome":
        return cls(
            name=name, status="duplicate" if report.duplicate else "accepted", reason=report.explanation,
            spectra=report.created, raw_file=report.raw_file, attached=report.attached,
        )


@dataclass
class BulkIngestReport:
    files: list[FileOutcome]

    def _with(self, status: str) -> list[FileOutcome]:
        return [f for f in self.files if f.status == status]

    @property
    def accepted(self) -> list[FileOutcome]:
        return self._with("accepted")

    @property
    def duplicates(self) -> list[FileOutcome]:
        return self._with("duplicate")

    @property
    def rejected(self) -> list[FileOutcome]:
        return self._with("rejected")

    @property
    def spectra(self) -> list[ImpedanceSpectrum]:
        return [s for f in self.files for s in f.spectra]


def _store_on_commit(name: str, data: bytes) -> None:
    """Write the bytes at their content address once the transaction commits (never on rollback)."""

    def write() -> None:
        if default_storage.exists(name):
            return  # same bytes, same address: already stored (another group, or a retry)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer won the race; keep one copy
            default_storage.delete(saved)

    transaction.on_commit(write)


# ----------------------------------------------------------------------------- public API


def preview_upload(*, data: bytes, filename: str) -> list[ParsedSpectrum]:
    """The spectra a file holds, parsed and validated; nothing is stored.

    Raises IngestError naming the file, line and reason.
    """
    _check_size(data, filename)
    try:
        parsed = parse(bytes(data), filename=filename)
    except ParseError as exc:
        raise IngestError.from_parse_error(exc, filename) from None
    except UNEXPECTED_PARSER_ERRORS as exc:
        # A parser tripped over damaged bytes without a ParseError of its own: still the file's fault, still a 400.
        logger.warning("Parser failed on %s without a ParseError", filename, exc_info=True)
        raise IngestError(
            f"cannot be read as an instrument file; it may be damaged ({type(exc).__name__}: {exc})",
            filename=filename,
            field="file",
        ) from None
    if not parsed:
        raise IngestError("the file holds no impedance spectrum", filename=filename)
    for spectrum in parsed:
        validate_arrays(
            spectrum.frequencies_hz,
            spectrum.impedance_ohm,
            filename=filename,
            field_prefix=f"spectrum {spectrum.index + 1} " if len(parsed) > 1 else "",
        )
    return parsed


@transaction.atomic
def ingest_upload(
    *,
    cell: Cell,
    filename: str,
    data: bytes,
    user,
    group: ResearchGroup | None = None,
    visibility: str | None = None,
    embargo_until: datetime.date | None = None,
    conditions: dict[str, Any] | None = None,
    analyse: bool = True,
    attach: bool = False,
) -> IngestReport:
    """Store an instrument file and the spectra in it, linked to ``cell``, in one transaction.

    The raw file is kept content-addressed by SHA-256: the same bytes uploaded
    again to the same group return the existing spectra with
    ``duplicate=True`` and write nothing; the report's ``explanation`` says
    which spectra and cells hold them and that the cell and conditions given
    were not applied. With ``attach=True`` a file the group holds already,
    but not yet on ``cell``, becomes new spectra on ``cell`` with the given
    conditions, sharing the stored raw file (the same measurement filed under
    a second cell). Conditions given by the user win over those the file
    states. Analysis is queued when the transaction commits
    (``analyse=False``: the caller analyses, e.g. the demo loader).
    """
    filename = posixpath.basename(str(filename).replace("\\", "/")) or "upload"
    data = bytes(data)
    group, visibility, embargo_until = _resolve_ownership(cell, group, visibility, embargo_until, user=user)
    _check_can_write(user=user, cell=cell, group=group)
    user_conditions = _clean_conditions(conditions, filename=filename)
    _check_size(data, filename)
    sha256 = hashlib.sha256(data).hexdigest()

    stored = {"cell": cell, "user": user, "group": group, "visibility": visibility, "embargo_until": embargo_until,
              "conditions": user_conditions, "filename": filename}
    existing = RawFile.objects.filter(group=group, sha256=sha256).first()
    if existing is not None:
        return _already_stored(existing, data=data, attach=attach, analyse=analyse, **stored)

    parsed = preview_upload(data=data, filename=filename)
    raw = RawFile(
        group=group,
        visibility=visibility,
        embargo_until=embargo_until,
        created_by=user if user and user.is_authenticated else None,
        sha256=sha256,
        original_name=filename[:255],
        size_bytes=len(data),
        format=parsed[0].format,
        parser_version=PARSER_VERSION,
        cell=cell,
    )
    raw.file.name = raw_file_path(raw, filename)
    try:
        with transaction.atomic():
            raw.save()
    except IntegrityError:
        # A concurrent upload of the same bytes to the same group committed first.
        existing = RawFile.objects.get(group=group, sha256=sha256)
        return _already_stored(existing, data=data, attach=attach, analyse=analyse, **stored)

    _store_on_commit(raw.file.name, data)  # dropped with the rest if a spectrum below is refused
    spectra = _save_spectra(parsed, raw_file=raw, analyse=analyse, **stored)
    return IngestReport(created=spectra, duplicate=False, raw_file=raw)


def _save_spectra(
    parsed: list[ParsedSpectrum], *, raw_file: RawFile, cell: Cell, user, group, visibility, embargo_until,
    conditions: dict[str, Any], filename: str, analyse: bool,
) -> list[ImpedanceSpectrum]:
    """The parsed spectra of ``raw_file`` validated, saved on ``cell`` and (``analyse``) queued for analysis."""
    many = len(parsed) > 1
    spectra = [
        _build_spectrum(
            cell=cell,
            user=user,
            group=group,
            visibility=visibility,
            embargo_until=embargo_until,
            frequencies_hz=item.frequencies_hz,
            impedance_ohm=item.impedance_ohm,
            metadata={**item.metadata, "source_file": filename},
            conditions=conditions,
            raw_file=raw_file,
            index=item.index,
            default_label=f"{filename} #{item.index + 1}" if many else filename,
            filename=filename,
        )
        for item in parsed
    ]
    share_frequency_grids(spectra)
    for spectrum in spectra:
        spectrum.save()
    if analyse:
        _queue_analysis_on_commit([s.pk for s in spectra], user)
    return spectra


def _already_stored(existing: RawFile, *, data: bytes, attach: bool, analyse: bool, **stored) -> IngestReport:
    """A file the group holds already: attach it to ``cell`` as asked, else say where it is and what was not applied."""
    cell = stored["cell"]
    held = list(existing.spectra.select_related("cell").order_by("index_in_file", "pk"))
    if attach and not any(s.cell_id == cell.pk for s in held):
        parsed = preview_upload(data=data, filename=stored["filename"])
        spectra = _save_spectra(parsed, raw_file=existing, analyse=analyse, **stored)
        return IngestReport(
            created=spectra, duplicate=False, raw_file=existing, attached=True,
            explanation=f"the group already held this exact file{_raw_file_named(existing, user=stored['user'])}, on "
            f"{_holders(held, user=stored['user'])}; as asked "
            f"(attach), it is now also stored on cell {cell.pk} as {len(spectra)} new spectrum(s) with the conditions given",
        )
    return IngestReport(
        created=held, duplicate=True, raw_file=existing,
        explanation=duplicate_explanation(existing, held, cell=cell, conditions=stored["conditions"], attach=attach,
                                          user=stored["user"]),
    )


def _holders(held: list[ImpedanceSpectrum], *, user) -> str:
    """The spectra holding a file, named (id, cell id and name) only when ``user`` sees the spectrum and its cell: a
    fellow member's private spectra are counted as private records, never named."""
    if user is None:  # a command run by the operator, not a request: every holder is named
        seen = {s.pk for s in held}
    else:
        seen = set(visible_spectra(user=user).filter(pk__in=[s.pk for s in held]).values_list("pk", flat=True))
    named = [f"spectrum {s.pk} on cell {s.cell_id} ({s.cell.name})" for s in held if s.pk in seen]
    hidden = len(held) - len(named)
    if hidden:
        named.append(f"{hidden} {PRIVATE_LABEL}{'s' if hidden > 1 else ''} of another member")
    return "; ".join(named) or "no spectrum"


def _raw_file_named(raw_file: RawFile, *, user) -> str:
    """The words ' (raw file 18)' when ``user`` may see that raw file, else nothing: its id is not given away."""
    if user is not None and not visible_raw_files(user=user).filter(pk=raw_file.pk).exists():
        return ""
    return f" (raw file {raw_file.pk})"


def duplicate_explanation(raw_file: RawFile, held: list[ImpedanceSpectrum], *, cell: Cell, conditions: dict[str, Any],
                          attach: bool = False, user=None) -> str:
    """Where the stored bytes are (as far as ``user`` may see), that nothing was written, and which of the caller's
    choices were NOT applied."""
    text = (f"the group already holds this exact file{_raw_file_named(raw_file, user=user)}: "
            f"{_holders(held, user=user)}. Nothing was stored")
    on_cell = any(s.cell_id == cell.pk for s in held)
    differing = {
        key: value for key, value in conditions.items() if any(getattr(s, key, None) != value for s in held)
    }
    given = ", ".join(f"{key}={value}" for key, value in differing.items())
    if not on_cell:
        not_applied = f"cell {cell.pk}" + (f" and the conditions ({given})" if given else "")
        return (
            f"{text}; the {not_applied} you gave were NOT applied. To store this measurement on cell {cell.pk} as well, "
            f"send the same upload again with attach=true (web form: tick \"Attach to this cell too\")."
        )
    if given:
        return (
            f"{text}; it is on cell {cell.pk} already, and the conditions you gave ({given}) were NOT applied: "
            f"the stored spectra keep theirs" + (" (attach does nothing for a cell that holds the file)" if attach else "") + "."
        )
    return f"{text}; it is on cell {cell.pk} already."


# What a damaged or unusual archive raises while it is opened or a member is unpacked (truncation,
# flipped bytes: bad CRC or header, zlib.error, negative seek, unsupported compression or version).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    NotImplementedError,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    struct.error,
)

# What a parser may raise on bytes it was never meant to read, besides its own ParseError.
UNEXPECTED_PARSER_ERRORS = (
    ValueError, IndexError, KeyError, TypeError, struct.error, zlib.error, EOFError, OverflowError, UnicodeError,
)


def _reason_for(exc: IngestError, member_name: str) -> str:
    return str(exc) if exc.filename != posixpath.basename(member_name) else _without_filename(exc)


def _zip_limits() -> tuple[int, int]:
    members = int(getattr(settings, "MAX_ZIP_MEMBERS", DEFAULT_MAX_ZIP_MEMBERS))
    total_mb = int(getattr(settings, "MAX_ZIP_UNCOMPRESSED_MB", DEFAULT_MAX_ZIP_UNCOMPRESSED_MB))
    return members, total_mb * 1024 * 1024


def _skipped_member(name: str) -> bool:
    parts = [p for p in name.split("/") if p]
    return not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read at most ``limit`` bytes; declared sizes can lie, so the real size is checked as it streams."""
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise IngestError(f"larger than {limit / 1048576:.0f} MB once unpacked", filename=info.filename, field="file")
    return data


@transaction.atomic
def ingest_zip(
    *,
    cell: Cell,
    filename: str,
    data: bytes,
    user,
    group: ResearchGroup | None = None,
    visibility: str | None = None,
    embargo_until: datetime.date | None = None,
    conditions: dict[str, Any] | None = None,
    analyse: bool = True,
    attach: bool = False,
) -> BulkIngestReport:
    """Ingest every instrument file in a zip archive; one report line per file (``attach``: as in ingest_upload).

    Each file is stored in its own savepoint, so a rejected file costs only
    itself. Folders are walked; ``__MACOSX`` and dot-files are skipped. The
    archive is refused whole when it holds more files or more unpacked bytes
    than the limits (``MAX_ZIP_MEMBERS``, ``MAX_ZIP_UNCOMPRESSED_MB``).
    """
    data = bytes(data)
    resolved_group, _, _ = _resolve_ownership(cell, group, visibility, embargo_until, user=user)
    _check_can_write(user=user, cell=cell, group=resolved_group)
    _check_size(data, filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except ZIP_ERRORS as exc:
        raise IngestError(f"not a readable zip archive ({exc or type(exc).__name__})", filename=filename, field="file") from None
    max_members, max_total = _zip_limits()
    with archive:
        members = [i for i in infos if not i.is_dir() and not _skipped_member(i.filename)]
        if len(members) > max_members:
            raise IngestError(
                f"holds {len(members)} files; at most {max_members} are accepted in one archive", filename=filename
            )
        declared = sum(i.file_size for i in members)
        if declared > max_total:
            raise IngestError(
                f"unpacks to {declared / 1048576:.0f} MB; at most {max_total / 1048576:.0f} MB are accepted",
                filename=filename,
            )
        outcomes: list[FileOutcome] = []
        unpacked = 0
        per_file_limit = _max_upload_bytes()
        for info in members:
            name = info.filename
            try:
                if info.flag_bits & 0x1:
                    raise IngestError("encrypted zip members are not supported", filename=name)
                member = _read_member(archive, info, min(per_file_limit, max_total - unpacked))
            except IngestError as exc:
                outcomes.append(FileOutcome(name=name, status="rejected", reason=_reason_for(exc, name)))
                continue
            except ZIP_ERRORS as exc:
                outcomes.append(FileOutcome(name=name, status="rejected", reason=f"cannot unpack: {exc or type(exc).__name__}"))
                continue
            unpacked += len(member)
            try:
                report = ingest_upload(
                    cell=cell,
                    filename=name,
                    data=member,
                    user=user,
                    group=group,
                    visibility=visibility,
                    embargo_until=embargo_until,
                    conditions=conditions,
                    analyse=analyse,
                    attach=attach,
                )
            except IngestError as exc:
                outcomes.append(FileOutcome(name=name, status="rejected", reason=_reason_for(exc, name)))
                continue
            outcomes.append(FileOutcome.from_report(name, report))
    return BulkIngestReport(files=outcomes)


def ingest_paths(
    *,
    cell: Cell,
    paths: Iterable,
    user,
    conditions: dict[str, Any] | None = None,
    analyse: bool = True,
    on_progress=None,
) -> BulkIngestReport:
    """Ingest files from disk one by one (each its own transaction), reporting per file.

    ``on_progress(done, total, outcome)`` is called after every file, so a
    command can print a progress line.
    """
    paths = list(paths)
    outcomes: list[FileOutcome] = []
    for done, path in enumerate(paths, start=1):
        name = getattr(path, "name", str(path))
        try:
            data = path.read_bytes()
            report = ingest_upload(
                cell=cell, filename=name, data=data, user=user, conditions=conditions, analyse=analyse
            )
        except IngestError as exc:
            outcome = FileOutcome(name=name, status="rejected", reason=_without_filename(exc))
        except OSError as exc:
            outcome = FileOutcome(name=name, status="rejected", reason=f"cannot read: {exc.strerror or exc}")
        else:
            outcome = FileOutcome.from_report(name, report)
        outcomes.append(outcome)
        if on_progress is not None:
            on_progress(done, len(paths), outcome)
    return BulkIngestReport(files=outcomes)

