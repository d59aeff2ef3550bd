"""Writes of spectra and raw files: instrument-file ingestion, bulk zips and JSON arrays.

Every entry point stores all or nothing: the rows of one upload are written
in one transaction, and the raw file's bytes reach the storage only once that
transaction commits, so a failed ingest leaves neither rows nor a file behind.
Analysis jobs are queued on commit through ``apps.analysis.services.queue_analysis``.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import logging
import math
import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.accounts.models import Membership, ResearchGroup, Visibility
from apps.catalog.models import Cell
from apps.catalog.services import full_clean_by_field

from .models import Atmosphere, CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile, raw_file_path
from .parsers import PARSER_VERSION, ParsedSpectrum, ParseError, parse

logger = logging.getLogger(__name__)

MIN_POINTS = 5

# Zip-bomb guards; each can be overridden in settings.
DEFAULT_MAX_ZIP_MEMBERS = 2000
DEFAULT_MAX_ZIP_UNCOMPRESSED_MB = 500

# Conditions a user may state for the spectra of an upload (model field names).
CONDITION_FIELDS: tuple[str, ...] = (
    "label",
    "temperature_c",
    "equilibration_time_min",
    "atmosphere",
    "stack_pressure_mpa",
    "cycle_index",
    "state_of_charge",
    "elapsed_time_h",
    "dc_bias_v",
    "ac_amplitude_mv",
    "mode",
    "instrument",
    "measured_at",
)
_FLOAT_CONDITIONS = {
    "temperature_c",
    "equilibration_time_min",
    "stack_pressure_mpa",
    "state_of_charge",
    "elapsed_time_h",
    "dc_bias_v",
    "ac_amplitude_mv",
}


class IngestError(ValueError):
    """An upload that cannot be stored; names the file, the line and the field where one applies.

    ``str()`` reads ``<filename>, line <n>, field <f>: <reason>``.
    """

    def __init__(self, reason: str, *, filename: str | None = None, line: int | None = None, field: str | None = None):
        self.reason = reason
        self.filename = filename
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.filename or "upload"]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.reason}"

    @classmethod
    def from_parse_error(cls, exc: ParseError, filename: str) -> "IngestError":
        return cls(exc.reason, filename=exc.filename or filename, line=exc.line, field=getattr(exc, "field", None))


@dataclass
class IngestReport:
    """What one uploaded file became. ``duplicate``: the group already had these bytes."""

    created: list[ImpedanceSpectrum]
    duplicate: bool
    raw_file: RawFile | None


@dataclass
class FileOutcome:
    name: str
    status: str  # "accepted" | "duplicate" | "rejected"
    reason: str = ""
    spectra: list[ImpedanceSpectrum] = field(default_factory=list)


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


# ----------------------------------------------------------------------------- helpers


def _max_upload_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


def _check_size(data: bytes, filename: str) -> None:
    limit = _max_upload_bytes()
    if len(data) > limit:
        raise IngestError(
            f"file is {len(data) / 1048576:.1f} MB; the upload limit is {settings.MAX_UPLOAD_MB} MB (MAX_UPLOAD_MB)",
            filename=filename,
            field="file",
        )


def _is_member(user, group: ResearchGroup) -> bool:
    if not user or not user.is_authenticated:
        return False
    return user.is_superuser or Membership.objects.filter(user=user, group=group).exists()


def _check_can_write(*, user, cell: Cell, group: ResearchGroup) -> None:
    if not _is_member(user, cell.group):
        raise PermissionDenied(f"{user} is not a member of {cell.group}, which owns cell {cell.name!r}.")
    if group.pk != cell.group_id and not _is_member(user, group):
        raise PermissionDenied(f"{user} is not a member of {group}.")


def points_per_decade(frequencies_hz: np.ndarray) -> float | None:
    """Sampling density of a sweep: (n − 1) / log10(f_max / f_min); None for a single frequency."""
    f = np.asarray(frequencies_hz, dtype=float)
    if f.size < 2:
        return None
    decades = math.log10(float(f.max()) / float(f.min()))
    if decades <= 0:
        return None
    return round((f.size - 1) / decades, 2)


def validate_arrays(frequencies_hz, impedance_ohm, *, filename: str | None = None, field_prefix: str = "") -> None:
    """Raise IngestError unless the arrays are a usable spectrum.

    Finite, strictly positive frequencies, no repeated frequency, finite Z
    (real and imaginary) and at least five points.
    """
    f = np.asarray(frequencies_hz, dtype=float)
    z = np.asarray(impedance_ohm, dtype=complex)
    fname = f"{field_prefix}frequencies_hz"
    if f.ndim != 1 or z.ndim != 1:
        raise IngestError("frequencies and impedance must be one-dimensional", filename=filename, field=fname)
    if f.size != z.size:
        raise IngestError(
            f"{f.size} frequencies but {z.size} impedance values", filename=filename, field=f"{field_prefix}impedance"
        )
    if f.size < MIN_POINTS:
        raise IngestError(
            f"only {f.size} data point{'s' if f.size != 1 else ''}; at least {MIN_POINTS} are needed",
            filename=filename,
            field=fname,
        )
    bad = np.flatnonzero(~np.isfinite(f))
    if bad.size:
        raise IngestError(f"frequency at index {bad[0]} is not a finite number", filename=filename, field=fname)
    bad = np.flatnonzero(f <= 0)
    if bad.size:
        raise IngestError(f"frequency at index {bad[0]} is {f[bad[0]]!r}; must be > 0", filename=filename, field=fname)
    bad = np.flatnonzero(~(np.isfinite(z.real) & np.isfinite(z.imag)))
    if bad.size:
        raise IngestError(
            f"impedance at index {bad[0]} is not a finite number", filename=filename, field=f"{field_prefix}impedance"
        )
    values, counts = np.unique(f, return_counts=True)
    if (counts > 1).any():
        raise IngestError(
            f"frequency {values[counts > 1][0]!r} Hz occurs more than once", filename=filename, field=fname
        )


def _as_datetime(value: Any) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
    else:
        text = str(value).strip()
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                raise ValueError(f"{value!r} is not an ISO date or date-time")
            moment = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(moment):
        # Instruments write local wall-clock time without a zone; the site's zone is the best guess.
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def conditions_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Measurement conditions a parsed file states, as ImpedanceSpectrum field values.

    Reads our own export keys (``temperature_c``, ``cycle_index`` …) and the
    instrument keys the parsers emit (``cycle``, ``started_at``, ``date``,
    ``software``). Values that cannot be read are left out, not guessed.
    """
    found: dict[str, Any] = {}
    for name in _FLOAT_CONDITIONS:
        if metadata.get(name) is None:
            continue
        try:
            found[name] = _checked_number(name, metadata[name], filename=None, field=name)
        except IngestError:
            continue  # an implausible value stays in the metadata, not in the condition
    cycle = metadata.get("cycle_index", metadata.get("cycle"))
    number = _number(cycle)
    if number is not None and number >= 0 and number == int(number):
        found["cycle_index"] = int(number)
    mode = str(metadata.get("mode") or "").lower()
    if mode in ImpedanceSpectrum.Mode.values:
        found["mode"] = mode
    atmosphere = str(metadata.get("atmosphere") or "").lower()
    if atmosphere in Atmosphere.values:
        found["atmosphere"] = atmosphere
    instrument = metadata.get("instrument") or metadata.get("software")
    if instrument:
        found["instrument"] = str(instrument)[:120]
    for key in ("measured_at", "started_at", "date"):
        try:
            moment = _as_datetime(metadata.get(key))
        except ValueError:
            continue
        if moment is not None:
            found["measured_at"] = moment
            break
    if metadata.get("label"):
        found["label"] = str(metadata["label"])[:200]
    return found


def _checked_number(key: str, value: Any, *, filename: str | None, field: str) -> float:
    """A finite number within the range the condition allows (mirrors the model's constraints)."""
    number = _number(value)
    if number is None:
        raise IngestError(f"{value!r} is not a finite number", filename=filename, field=field)
    if key == "state_of_charge" and not 0 <= number <= 1:
        raise IngestError(f"{number!r} is not a fraction between 0 and 1", filename=filename, field=field)
    if key in ("stack_pressure_mpa", "equilibration_time_min", "elapsed_time_h") and number < 0:
        raise IngestError(f"{number!r} is negative", filename=filename, field=field)
    if key == "temperature_c" and number <= -273.15:
        raise IngestError(f"{number!r} °C is below absolute zero", filename=filename, field=field)
    return number


def _clean_conditions(conditions: dict[str, Any] | None, *, filename: str | None, prefix: str = "") -> dict[str, Any]:
    """User-given conditions, checked against the fields a spectrum has."""
    if not conditions:
        return {}
    cleaned: dict[str, Any] = {}
    for key, value in conditions.items():
        if key not in CONDITION_FIELDS:
            raise IngestError(
                f"unknown condition; expected one of {', '.join(CONDITION_FIELDS)}", filename=filename, field=f"{prefix}{key}"
            )
        if value is None or value == "":
            continue
        if key in _FLOAT_CONDITIONS:
            value = _checked_number(key, value, filename=filename, field=f"{prefix}{key}")
        elif key == "cycle_index":
            number = _number(value)
            if number is None or number < 0 or number != int(number):
                raise IngestError(f"{value!r} is not a non-negative integer", filename=filename, field=f"{prefix}{key}")
            value = int(number)
        elif key == "measured_at":
            try:
                value = _as_datetime(value)
            except ValueError as exc:
                raise IngestError(str(exc), filename=filename, field=f"{prefix}{key}") from None
        cleaned[key] = value
    return cleaned


def _json_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        safe[str(key)] = value
    return safe


def _build_spectrum(
    *,
    cell: Cell,
    user,
    group: ResearchGroup,
    visibility: str,
    embargo_until,
    frequencies_hz,
    impedance_ohm,
    metadata: dict[str, Any],
    conditions: dict[str, Any],
    raw_file: RawFile | None,
    index: int,
    default_label: str,
    filename: str | None,
    error_prefix: str = "",
) -> ImpedanceSpectrum:
    """An unsaved, fully validated spectrum: conditions from the user, else the file, else the cell."""
    values = conditions_from_metadata(metadata)
    values.update(conditions)
    if "stack_pressure_mpa" not in values and cell.measurement_pressure_mpa is not None:
        values["stack_pressure_mpa"] = cell.measurement_pressure_mpa
    values.setdefault("label", default_label[:200])
    spectrum = ImpedanceSpectrum(
        cell=cell,
        group=group,
        visibility=visibility,
        embargo_until=embargo_until,
        created_by=user if user and user.is_authenticated else None,
        raw_file=raw_file,
        index_in_file=index,
        metadata=_json_safe(metadata),
        **values,
    )
    spectrum.set_arrays(frequencies_hz, impedance_ohm)
    spectrum.points_per_decade = points_per_decade(frequencies_hz)
    try:
        # The table's check constraints are covered by validate_arrays and _checked_number; skipping
        # them here saves one query per constraint and spectrum (the database still enforces them).
        full_clean_by_field(
            spectrum, exclude=["raw_file", "cell", "group", "created_by"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        field_name = None if name == "__all__" else f"{error_prefix}{name}"
        raise IngestError("; ".join(messages), filename=filename, field=field_name) from None
    return spectrum


def _resolve_ownership(cell: Cell, group, visibility, embargo_until):
    group = group or cell.group
    visibility = visibility or cell.visibility
    if visibility not in Visibility.values:
        raise IngestError(f"{visibility!r} is not one of {', '.join(Visibility.values)}", field="visibility")
    if embargo_until is None and group.pk == cell.group_id:
        embargo_until = cell.embargo_until
    return group, visibility, embargo_until


def _store_on_commit(name: str, data: bytes) -> None:
    """Write the bytes at their content address once the transaction commits (never on rollback)."""

    def write() -> None:
        if default_storage.exists(name):
            return  # same bytes, same address: already stored (another group, or a retry)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer won the race; keep one copy
            default_storage.delete(saved)

    transaction.on_commit(write)


def _queue_analysis_on_commit(spectrum_ids: list[int], user) -> None:
    if not spectrum_ids:
        return
    user_id = user.pk if user and user.is_authenticated else None

    def queue() -> None:
        from django.contrib.auth import get_user_model

        from apps.analysis.services import queue_analysis  # the job system owns analysis; imported late

        queuing_user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        queue_analysis(spectrum_ids=list(spectrum_ids), user=queuing_user)

    transaction.on_commit(queue)


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
) -> IngestReport:
    """Store an instrument file and the spectra in it, linked to ``cell``, in one transaction.

    The raw file is kept content-addressed by SHA-256: the same bytes uploaded
    again to the same group return the existing spectra with
    ``duplicate=True`` and write nothing. Conditions given by the user win
    over those the file states. Analysis is queued when the transaction
    commits (``analyse=False``: the caller analyses, e.g. the demo loader).
    """
    filename = posixpath.basename(str(filename).replace("\\", "/")) or "upload"
    data = bytes(data)
    group, visibility, embargo_until = _resolve_ownership(cell, group, visibility, embargo_until)
    _check_can_write(user=user, cell=cell, group=group)
    user_conditions = _clean_conditions(conditions, filename=filename)
    _check_size(data, filename)
    sha256 = hashlib.sha256(data).hexdigest()

    existing = RawFile.objects.filter(group=group, sha256=sha256).first()
    if existing is not None:
        return IngestReport(created=list(existing.spectra.order_by("index_in_file", "pk")), duplicate=True, raw_file=existing)

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
        return IngestReport(created=list(existing.spectra.order_by("index_in_file", "pk")), duplicate=True, raw_file=existing)

    many = len(parsed) > 1
    spectra = []
    for item in parsed:
        spectra.append(
            _build_spectrum(
                cell=cell,
                user=user,
                group=group,
                visibility=visibility,
                embargo_until=embargo_until,
                frequencies_hz=item.frequencies_hz,
                impedance_ohm=item.impedance_ohm,
                metadata={**item.metadata, "source_file": filename},
                conditions=user_conditions,
                raw_file=raw,
                index=item.index,
                default_label=f"{filename} #{item.index + 1}" if many else filename,
                filename=filename,
            )
        )
    for spectrum in spectra:
        spectrum.save()
    _store_on_commit(raw.file.name, data)
    if analyse:
        _queue_analysis_on_commit([s.pk for s in spectra], user)
    return IngestReport(created=spectra, duplicate=False, raw_file=raw)


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
) -> BulkIngestReport:
    """Ingest every instrument file in a zip archive; one report line per file.

    Each file is stored in its own savepoint, so a rejected file costs only
    itself. Folders are walked; ``__MACOSX`` and dot-files are skipped. The
    archive is refused whole when it holds more files or more unpacked bytes
    than the limits (``MAX_ZIP_MEMBERS``, ``MAX_ZIP_UNCOMPRESSED_MB``).
    """
    data = bytes(data)
    resolved_group, _, _ = _resolve_ownership(cell, group, visibility, embargo_until)
    _check_can_write(user=user, cell=cell, group=resolved_group)
    _check_size(data, filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise IngestError(f"not a readable zip archive ({exc})", filename=filename, field="file") from None
    max_members, max_total = _zip_limits()
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir() and not _skipped_member(i.filename)]
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
                unpacked += len(member)
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
                )
            except IngestError as exc:
                reason = str(exc) if exc.filename != posixpath.basename(name) else _without_filename(exc)
                outcomes.append(FileOutcome(name=name, status="rejected", reason=reason))
                continue
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                outcomes.append(FileOutcome(name=name, status="rejected", reason=f"cannot unpack: {exc}"))
                continue
            status = "duplicate" if report.duplicate else "accepted"
            reason = "the group already holds this exact file" if report.duplicate else ""
            outcomes.append(FileOutcome(name=name, status=status, reason=reason, spectra=report.created))
    return BulkIngestReport(files=outcomes)


def _without_filename(exc: IngestError) -> str:
    parts = []
    if exc.line is not None:
        parts.append(f"line {exc.line}")
    if exc.field:
        parts.append(f"field {exc.field}")
    return f"{', '.join(parts)}: {exc.reason}" if parts else exc.reason


def _array_from(item: dict[str, Any], key: str, position: int) -> np.ndarray:
    values = item.get(key)
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise IngestError("a list of numbers is required", field=f"spectra[{position}].{key}")
    try:
        return np.asarray([float(v) if not isinstance(v, bool) else math.nan for v in values], dtype=float)
    except (TypeError, ValueError):
        raise IngestError("every value must be a number", field=f"spectra[{position}].{key}") from None


@transaction.atomic
def create_spectra_from_arrays(
    *, cell: Cell, user, spectra: list[dict[str, Any]], analyse: bool = True
) -> list[ImpedanceSpectrum]:
    """Create spectra from arrays (the API's JSON bulk creation), all or none.

    Each item: ``frequencies_hz``, ``z_real_ohm``, ``z_imag_ohm`` (lists of
    numbers), optional ``metadata`` (dict), ``group`` / ``visibility`` /
    ``embargo_until``, and any condition field (``temperature_c``, …).
    Errors name the item and field, e.g. ``spectra[2].frequencies_hz``.
    """
    if not isinstance(spectra, (list, tuple)) or not spectra:
        raise IngestError("at least one spectrum is required", field="spectra")
    built: list[ImpedanceSpectrum] = []
    for position, item in enumerate(spectra):
        prefix = f"spectra[{position}]."
        if not isinstance(item, dict):
            raise IngestError("each spectrum must be an object", field=f"spectra[{position}]")
        item = dict(item)
        f = _array_from(item, "frequencies_hz", position)
        real = _array_from(item, "z_real_ohm", position)
        imag = _array_from(item, "z_imag_ohm", position)
        if not (f.size == real.size == imag.size):
            raise IngestError(
                f"lists differ in length ({f.size}, {real.size}, {imag.size})", field=f"spectra[{position}].z_real_ohm"
            )
        z = np.empty(f.size, dtype=complex)
        z.real, z.imag = real, imag  # not real + 1j*imag: inf*1j would turn a finite real part into NaN
        validate_arrays(f, z, field_prefix=prefix)
        metadata = item.pop("metadata", None) or {}
        if not isinstance(metadata, dict):
            raise IngestError("must be an object", field=f"{prefix}metadata")
        group = item.pop("group", None)
        if group is not None and not isinstance(group, ResearchGroup):
            group = ResearchGroup.objects.filter(pk=group).first()
            if group is None:
                raise IngestError("no such research group", field=f"{prefix}group")
        visibility = item.pop("visibility", None)
        embargo_until = item.pop("embargo_until", None)
        if isinstance(embargo_until, str):
            parsed_day = parse_date(embargo_until)
            if parsed_day is None:
                raise IngestError(f"{embargo_until!r} is not an ISO date", field=f"{prefix}embargo_until")
            embargo_until = parsed_day
        for key in ("frequencies_hz", "z_real_ohm", "z_imag_ohm"):
            item.pop(key)
        conditions = _clean_conditions(item, filename=None, prefix=prefix)
        try:
            owner_group, owner_visibility, owner_embargo = _resolve_ownership(cell, group, visibility, embargo_until)
        except IngestError as exc:
            raise IngestError(exc.reason, field=f"{prefix}{exc.field}") from None
        _check_can_write(user=user, cell=cell, group=owner_group)
        built.append(
            _build_spectrum(
                cell=cell,
                user=user,
                group=owner_group,
                visibility=owner_visibility,
                embargo_until=owner_embargo,
                frequencies_hz=f,
                impedance_ohm=z,
                metadata=metadata,
                conditions=conditions,
                raw_file=None,
                index=position,
                default_label=f"{cell.name} spectrum {position + 1}",
                filename=None,
                error_prefix=prefix,
            )
        )
    for spectrum in built:
        spectrum.save()
    if analyse:
        _queue_analysis_on_commit([s.pk for s in built], user)
    return built


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
            outcome = FileOutcome(
                name=name,
                status="duplicate" if report.duplicate else "accepted",
                reason="the group already holds this exact file" if report.duplicate else "",
                spectra=report.created,
            )
        outcomes.append(outcome)
        if on_progress is not None:
            on_progress(done, len(paths), outcome)
    return BulkIngestReport(files=outcomes)


def _check_measurement_fields(model, fields: dict[str, Any]) -> None:
    unknown = [name for name in fields if name in {"id", "pk", "cell", "created_by", "created_at", "updated_at"}]
    known = {f.name for f in model._meta.concrete_fields}
    unknown += [name for name in fields if name not in known]
    if unknown:
        raise ValidationError({name: f"{model.__name__} has no writable field {name!r}." for name in unknown})


def _create_cell_measurement(model, *, cell: Cell, user, fields: dict[str, Any]):
    group = fields.pop("group", None) or cell.group
    _check_can_write(user=user, cell=cell, group=group)
    fields.setdefault("visibility", cell.visibility)
    if group.pk == cell.group_id:
        fields.setdefault("embargo_until", cell.embargo_until)
    _check_measurement_fields(model, fields)
    record = model(cell=cell, group=group, created_by=user if user and user.is_authenticated else None, **fields)
    full_clean_by_field(record, exclude=["cell", "group", "created_by"])
    record.save()
    return record


@transaction.atomic
def create_dc_polarisation(*, cell: Cell, user, **fields: Any) -> DCPolarisation:
    """A DC polarisation (ΔV, steady-state current …) of a blocking cell; ValidationError keyed by field."""
    return _create_cell_measurement(DCPolarisation, cell=cell, user=user, fields=dict(fields))


@transaction.atomic
def create_ccd_test(*, cell: Cell, user, **fields: Any) -> CriticalCurrentDensityTest:
    """A critical-current-density test with its protocol (step, capacity or duration per half-cycle, failure rule)."""
    return _create_cell_measurement(CriticalCurrentDensityTest, cell=cell, user=user, fields=dict(fields))


@transaction.atomic
def update_cell_measurement(
    *, record: DCPolarisation | CriticalCurrentDensityTest, user, cell: Cell | None = None, **fields: Any
) -> DCPolarisation | CriticalCurrentDensityTest:
    """Change a DC polarisation or CCD test (members of its group; a new cell must be writable too)."""
    if cell is not None and cell.pk != record.cell_id:
        _check_can_write(user=user, cell=cell, group=record.group)
        record.cell = cell
    _check_can_write(user=user, cell=record.cell, group=record.group)
    fields.pop("group", None)  # moving a record between groups is an ownership change, not an edit
    _check_measurement_fields(type(record), fields)
    for name, value in fields.items():
        setattr(record, name, value)
    full_clean_by_field(record, exclude=["cell", "group", "created_by"])
    record.save()
    return record
