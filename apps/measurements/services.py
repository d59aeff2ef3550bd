"""Writes of spectra and cell measurements: the API's JSON arrays, DC polarisation and CCD tests.

Instrument files and zips are ingested in ``ingest.py``; the checks every path
shares live in ``validation.py``. The public names of both are re-exported
here, so ``from apps.measurements.services import ingest_upload`` keeps working.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_date

from apps.accounts.models import ResearchGroup
from apps.accounts.references import require_visible_references
from apps.catalog.models import Cell
from apps.catalog.services import full_clean_by_field

from .grids import share_frequency_grids
from .ingest import (  # noqa: F401  (re-exported)
    BulkIngestReport,
    FileOutcome,
    IngestReport,
    ingest_paths,
    ingest_upload,
    ingest_zip,
    preview_upload,
)
from .models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum
from .validation import (  # noqa: F401  (re-exported)
    CONDITION_FIELDS,
    MIN_POINTS,
    IngestError,
    _build_spectrum,
    _check_can_write,
    _clean_conditions,
    _queue_analysis_on_commit,
    _resolve_ownership,
    conditions_from_metadata,
    points_per_decade,
    validate_arrays,
)


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
            owner_group, owner_visibility, owner_embargo = _resolve_ownership(cell, group, visibility, embargo_until, user=user)
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
    share_frequency_grids(built)
    for spectrum in built:
        spectrum.save()
    if analyse:
        _queue_analysis_on_commit([s.pk for s in built], user)
    return built


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
    require_visible_references(record, user=user)
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
    require_visible_references(record, user=user)
    return record


def compact_spectrum_counts() -> int:
    """Fold the `SpectrumCount` rows of each cell that has more than one per class into one per class (classes
    that sum to 0 disappear); returns the rows removed. One statement: rows the triggers append meanwhile are
    not touched, so no count is lost."""
    from django.db import connection

    from .models import SpectrumCount

    table = SpectrumCount._meta.db_table
    key = "cell_id, group_id, visibility, embargo_until, created_by_id"
    before = SpectrumCount.objects.count()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH folded AS (DELETE FROM {table} WHERE cell_id IN ("
                f"SELECT cell_id FROM {table} GROUP BY {key} HAVING COUNT(*) > 1 OR SUM(n) = 0) RETURNING {key}, n) "
                f"INSERT INTO {table} ({key}, n) SELECT {key}, SUM(n) FROM folded GROUP BY {key} HAVING SUM(n) <> 0"
            )
        else:  # SQLite keeps one row per class already (one writer at a time): only empty classes go
            cursor.execute(f"DELETE FROM {table} WHERE n = 0")
    return before - SpectrumCount.objects.count()
