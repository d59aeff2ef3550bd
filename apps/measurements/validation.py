"""Checks shared by every way spectra arrive: arrays, conditions, ownership, and the unsaved spectrum.

``IngestError`` names the file, line and field of what is wrong; the ingest
paths (``ingest.py``: instrument files and zips; ``services.py``: JSON arrays)
build their spectra with ``build_spectrum`` so all of them apply one set of rules.
"""
from __future__ import annotations

import datetime
import json
import math
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.accounts.models import Membership, ResearchGroup, Visibility
from apps.accounts.references import covers
from apps.catalog.models import Cell
from apps.catalog.services import full_clean_by_field

from .models import Atmosphere, ImpedanceSpectrum, RawFile
from .parsers import ParseError
from .signals import spectra_stored

MIN_POINTS = 5

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
    check_point_count(f.size, filename=filename, field=fname)
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
    repeats = repeated_frequency_indices(f)
    if repeats:
        shown = "; ".join(f"index {i} repeats {f[i]:g} Hz of index {j}" for i, j in repeats[:5])
        more = f" and {len(repeats) - 5} more" if len(repeats) > 5 else ""
        raise IngestError(
            f"{len(repeats)} repeated frequenc{'y' if len(repeats) == 1 else 'ies'} ({shown}{more}); refused, not "
            "merged: no supported format documents repeats within one sweep, so which point is right is unknown",
            filename=filename,
            field=fname,
        )


def repeated_frequency_indices(frequencies_hz) -> list[tuple[int, int]]:
    """(index of the repeat, index of its first occurrence) for every exact repeat of an earlier frequency."""
    first_seen: dict[float, int] = {}
    repeats = []
    for i, value in enumerate(np.asarray(frequencies_hz, dtype=float).tolist()):
        if value in first_seen:
            repeats.append((i, first_seen[value]))
        else:
            first_seen[value] = i
    return repeats


def check_point_count(n_points: int, *, filename: str | None = None, field: str | None = None) -> None:
    """Refuse a spectrum longer than MAX_SPECTRUM_POINTS (every page, fit and export of it must stay bounded)."""
    limit = int(settings.MAX_SPECTRUM_POINTS)
    if n_points > limit:
        raise IngestError(
            f"{n_points} points; at most {limit} are accepted per spectrum (MAX_SPECTRUM_POINTS)",
            filename=filename,
            field=field,
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


def _json_safe(metadata: dict[str, Any], *, filename: str | None = None, field: str = "metadata") -> dict[str, Any]:
    """Metadata as plain JSON values, bounded in depth (MAX_METADATA_DEPTH) and size (MAX_METADATA_KB).

    Dates become ISO text, non-finite numbers null, other objects their text. Bounded here, at
    ingest, so that no stored spectrum is too deep or too large to render.
    """
    max_depth = int(settings.MAX_METADATA_DEPTH)

    def clean(value: Any, depth: int) -> Any:
        if isinstance(value, (dict, list, tuple)):
            if depth >= max_depth:
                raise IngestError(f"nested more than {max_depth} levels deep", filename=filename, field=field)
            if isinstance(value, dict):
                return {str(key): clean(item, depth + 1) for key, item in value.items()}
            return [clean(item, depth + 1) for item in value]
        if isinstance(value, np.ndarray):
            return clean(value.tolist(), depth)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if value is None or isinstance(value, (str, int, bool)):
            return value
        return str(value)

    safe = clean(dict(metadata), 0)
    size_kb = len(json.dumps(safe, ensure_ascii=False).encode()) / 1024
    if size_kb > settings.MAX_METADATA_KB:
        raise IngestError(
            f"{size_kb:.0f} KB as JSON; at most {settings.MAX_METADATA_KB} KB of metadata are stored per spectrum",
            filename=filename,
            field=field,
        )
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
        metadata=_json_safe(metadata, filename=filename, field=f"{error_prefix}metadata"),
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


def _resolve_ownership(cell: Cell, group, visibility, embargo_until, *, user):
    """Group, visibility and embargo of new measurements of ``cell``: the cell's unless given.

    Measurements (and their raw file) may not be more visible than their cell
    (`apps.accounts.references`): a public upload onto a private cell is refused.
    """
    group = group or cell.group
    visibility = visibility or cell.visibility
    if visibility not in Visibility.values:
        raise IngestError(f"{visibility!r} is not one of {', '.join(Visibility.values)}", field="visibility")
    if embargo_until is None and group.pk == cell.group_id:
        embargo_until = cell.embargo_until
    probe = ImpedanceSpectrum(
        group=group, visibility=visibility, embargo_until=embargo_until,
        created_by=user if user and user.is_authenticated else None,
    )
    inherited = (group.pk, visibility, embargo_until) == (cell.group_id, cell.visibility, cell.embargo_until)
    if not inherited and not covers(cell, probe):
        raise IngestError(
            f"measurements that are {visibility}{f' from {embargo_until}' if embargo_until else ''} would be "
            f"more visible than their cell {cell.name!r} ({cell.visibility}"
            f"{f', public from {cell.embargo_until}' if cell.embargo_until else ''}); publish the cell first "
            "or upload them with the cell's visibility",
            field="visibility",
        )
    return group, visibility, embargo_until


def _queue_analysis_on_commit(spectrum_ids: list[int], user) -> None:
    if not spectrum_ids:
        return
    user_id = user.pk if user and user.is_authenticated else None

    def queue() -> None:
        from django.contrib.auth import get_user_model

        queuing_user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        spectra_stored.send(sender=ImpedanceSpectrum, spectrum_ids=list(spectrum_ids), user=queuing_user)

    transaction.on_commit(queue)


def _without_filename(exc: IngestError) -> str:
    parts = []
    if exc.line is not None:
        parts.append(f"line {exc.line}")
    if exc.field:
        parts.append(f"field {exc.field}")
    return f"{', '.join(parts)}: {exc.reason}" if parts else exc.reason

