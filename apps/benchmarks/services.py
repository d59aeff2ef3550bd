"""Writes of the benchmarks app: benchmark entries (from `metrics`) and literature values.
The reproduce bundle of an entry is read-only and lives in `bundles`."""
from __future__ import annotations

import csv
import functools
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from apps.analysis.services import refresh_conductivity_summary
from apps.catalog.models import Cell, CellLayer, MaterialFamily, Separator
from apps.common import summaries

from . import cell_metrics, metrics, selectors
from .completeness import Completeness, combined_completeness
from .completeness import completeness as _record_completeness
from .models import BenchmarkEntry, LiteratureValue, split_record_ids

logger = logging.getLogger(__name__)

__all__ = [
    "completeness", "entry_completeness", "recompute_entries", "import_literature",
    "ImportReport", "queue_recompute",
]


def completeness(record) -> Completeness:
    """Reporting completeness of a separator, cell or spectrum (see `completeness.py` for the checklist)."""
    return _record_completeness(record)


def entry_completeness(value: metrics.MetricValue, *, separator: Separator | None) -> Completeness:
    """Completeness of a metric: the separator's, the cells' and the spectra's checklists together."""
    cells = {s.cell_id: s.cell for s in value.spectra} if value.spectra else {c.pk: c for c in value.cells}
    return combined_completeness(
        separators=[separator] if separator is not None else [],
        cells=list(cells.values()),
        spectra=value.spectra,
    )


# ---------------------------------------------------------------------------
# Benchmark entries
# ---------------------------------------------------------------------------


def _plain(value):
    """JSON-safe and comparable: tuples become lists, non-finite floats None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _entry_fields(value: metrics.MetricValue, *, family: str, separator: Separator | None) -> dict:
    score = entry_completeness(value, separator=separator)
    details = dict(value.details)
    details["spectrum_ids"] = sorted({s.pk for s in value.spectra})
    details["cell_ids"] = sorted({c.pk for c in value.cells})
    details["flag_notes"] = dict(sorted(value.flags.items()))
    details, record_ids = split_record_ids(details)
    return _plain({
        "family": family,
        "value": float(value.value),
        "unit": value.unit,
        "stderr": value.stderr,
        "ci_low": value.ci_low,
        "ci_high": value.ci_high,
        "temperature_c": value.temperature_c,
        "stack_pressure_mpa": value.stack_pressure_mpa,
        "thickness_um": value.thickness_um,
        "method": value.method[:200],
        "protocol_id": value.protocol_id,
        "completeness_score": score.score,
        "missing_items": score.missing,
        "flags": sorted(value.flags),
        "blocking": value.blocking,
        "details": details,
        "record_ids": record_ids,
    })


def _store(values: list[metrics.MetricValue], *, lookup: dict, existing: Iterable[BenchmarkEntry], family: str,
           separator: Separator | None) -> int:
    """Write `values` for one subject; delete its entries whose metric no longer applies. Returns rows changed."""
    by_metric = {e.metric: e for e in existing}
    changed = 0
    seen = set()
    for value in values:
        if not math.isfinite(value.value):
            continue
        fields = _entry_fields(value, family=family, separator=separator)
        seen.add(value.metric)
        entry = by_metric.get(value.metric)
        if entry is None:
            BenchmarkEntry.objects.create(metric=value.metric, **lookup, **fields)
            changed += 1
            continue
        if any(getattr(entry, name) != new for name, new in fields.items()):
            for name, new in fields.items():
                setattr(entry, name, new)
            entry.save()
            changed += 1
    stale = [e.pk for metric, e in by_metric.items() if metric not in seen]
    if stale:
        BenchmarkEntry.objects.filter(pk__in=stale).delete()
        changed += len(stale)
    return changed


def _expand(separator_ids: set[int], cell_ids: set[int]) -> tuple[set[int], set[int]]:
    """A separator's cells carry its facts (completeness, family); a cell's spectra feed its separator."""
    cell_ids = cell_ids | set(
        Cell.objects.filter(Q(separator_id__in=separator_ids) | Q(layers__separator_id__in=separator_ids))
        .values_list("pk", flat=True)
    )
    separator_ids = separator_ids | set(
        Cell.objects.filter(pk__in=cell_ids, separator__isnull=False).values_list("separator_id", flat=True)
    ) | set(
        CellLayer.objects.filter(cell_id__in=cell_ids, separator__isnull=False).values_list("separator_id", flat=True)
    )
    return separator_ids, cell_ids


def recompute_entries(*, separator_ids: Iterable[int] = (), cell_ids: Iterable[int] = ()) -> int:
    """Recompute the benchmark entries of the given separators and cells (see `_recompute_entries`); the
    separators' pass and the cells' pass read each spectrum and its fit once."""
    with selectors.sharing_loaded_rows():
        return _recompute_entries(separator_ids=separator_ids, cell_ids=cell_ids)


@transaction.atomic
def _recompute_entries(*, separator_ids: Iterable[int] = (), cell_ids: Iterable[int] = ()) -> int:
    """Recompute the benchmark entries of the given separators and cells (and of the cells of
    those separators, and the separators of those cells).

    Idempotent: an entry whose values did not change is not written, entries
    whose metric no longer applies are deleted. Returns the number of entries
    created, changed or deleted (0 when nothing changed).
    """
    separator_ids, cell_ids = _expand({int(i) for i in separator_ids}, {int(i) for i in cell_ids})
    # Inputs changed: the separators' cached page summaries are aggregated afresh on their next view.
    transaction.on_commit(functools.partial(summaries.bump, "separator-arrhenius", sorted(separator_ids)))
    refresh_conductivity_summary(separator_ids=separator_ids)
    changed = 0
    separators = (
        Separator.objects.filter(pk__in=separator_ids)
        .select_related("source")
        .prefetch_related("components__material")
        .order_by("pk")
    )
    for separator in separators:
        values = metrics.separator_metrics(separator)
        changed += _store(
            values, lookup={"separator": separator, "cell": None},
            existing=BenchmarkEntry.objects.filter(separator=separator, cell__isnull=True),
            family=metrics.separator_family(separator), separator=separator,
        )
    cells = (
        Cell.objects.filter(pk__in=cell_ids)
        .select_related("separator", "source")
        .prefetch_related("separator__components__material", "pressure_steps", "interfaces")
        .order_by("pk")
    )
    for cell in cells:
        values = cell_metrics.cell_metrics(cell)
        separator = cell.separator
        changed += _store(
            values, lookup={"cell": cell, "separator": separator},
            existing=BenchmarkEntry.objects.filter(cell=cell),
            family=metrics.separator_family(separator) if separator is not None else "", separator=separator,
        )
    return changed


def queue_recompute(*, separator_ids: Iterable[int] = (), cell_ids: Iterable[int] = ()) -> None:
    """Queue a background recomputation once the current transaction commits."""
    separator_ids, cell_ids = sorted(set(separator_ids)), sorted(set(cell_ids))
    if not separator_ids and not cell_ids:
        return

    def send() -> None:
        from .queueing import queue_recompute_jobs

        queue_recompute_jobs(separator_ids=separator_ids, cell_ids=cell_ids)

    transaction.on_commit(send)


# ---------------------------------------------------------------------------
# Literature values (OBELiX)
# ---------------------------------------------------------------------------

#: OBELiX "Family" (lower-cased) → MaterialFamily. Anything else maps to "other",
#: except that Li–P–S compositions without oxygen are thiophosphates whatever the label.
OBELIX_FAMILIES: dict[str, str] = {
    "garnet": MaterialFamily.GARNET,
    "garnet-like": MaterialFamily.GARNET,
    "nasicon": MaterialFamily.NASICON,
    "perovskites": MaterialFamily.PEROVSKITE,
    "perovskite": MaterialFamily.PEROVSKITE,
    "argyrodites": MaterialFamily.ARGYRODITE,
    "argyrodite": MaterialFamily.ARGYRODITE,
    "lgps": MaterialFamily.THIOPHOSPHATE,
    "thio-lisicon": MaterialFamily.THIOPHOSPHATE,
    "thio-phosphate": MaterialFamily.THIOPHOSPHATE,
    "thiophosphate": MaterialFamily.THIOPHOSPHATE,
    "halides": MaterialFamily.HALIDE,
    "halide": MaterialFamily.HALIDE,
    "chlorides": MaterialFamily.HALIDE,
    "cholorides": MaterialFamily.HALIDE,
    "fluorides": MaterialFamily.HALIDE,
    "hydrides": MaterialFamily.HYDRIDE,
    "hydride": MaterialFamily.HYDRIDE,
}
_ELEMENT = re.compile(r"[A-Z][a-z]?")


def map_obelix_family(family_reported: str, composition: str) -> str:
    """MaterialFamily for an OBELiX row: the table above, then a composition rule for unlabelled sulfides."""
    mapped = OBELIX_FAMILIES.get(family_reported.strip().lower())
    if mapped:
        return mapped
    elements = set(_ELEMENT.findall(composition))
    if {"Li", "P", "S"} <= elements and "O" not in elements:
        return MaterialFamily.THIOPHOSPHATE
    return MaterialFamily.OTHER


def default_literature_path() -> Path:
    """LITERATURE_CSV (setting or environment), else the shared OBELiX copy beside the repository."""
    configured = getattr(settings, "LITERATURE_CSV", None) or os.environ.get("LITERATURE_CSV")
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "literature" / "obelix-all.csv"


@dataclass(frozen=True)
class ImportReport:
    total: int
    created: int
    updated: int
    unchanged: int


class LiteratureImportError(ValueError):
    """A literature file that cannot be imported; names the file, the line and the field."""


def _conductivity(text: str, *, path: Path, line: int, column: str, required: bool) -> tuple[float | None, bool]:
    text = (text or "").strip()
    if not text:
        if required:
            raise LiteratureImportError(f"{path.name}, line {line}: column {column!r} is empty")
        return None, False
    upper = text.startswith("<")
    try:
        value = float(text.lstrip("<≤ ").strip())
    except ValueError:
        raise LiteratureImportError(f"{path.name}, line {line}: column {column!r} is not a number: {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise LiteratureImportError(f"{path.name}, line {line}: column {column!r} must be positive, got {text!r}")
    return value, upper


REQUIRED_COLUMNS = ("ID", "Reduced Composition", "Ionic conductivity (S cm-1)", "Family", "DOI")
LITERATURE_FIELDS = ("composition", "family_reported", "family", "conductivity_s_per_cm", "is_upper_bound",
                     "conductivity_total_s_per_cm", "conductivity_bulk_s_per_cm", "space_group", "doi")


def _read_obelix(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LiteratureImportError(f"{path}: file not found (set LITERATURE_CSV or pass the path)") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LiteratureImportError(f"{path.name}, line 1: missing column(s) {', '.join(missing)}")
    rows = []
    for line, raw in enumerate(reader, start=2):
        external_id = (raw["ID"] or "").strip()
        if not external_id:
            raise LiteratureImportError(f"{path.name}, line {line}: column 'ID' is empty")
        sigma, upper = _conductivity(raw["Ionic conductivity (S cm-1)"], path=path, line=line,
                                     column="Ionic conductivity (S cm-1)", required=True)
        total, _ = _conductivity(raw.get("IC (Total)", ""), path=path, line=line, column="IC (Total)", required=False)
        bulk, _ = _conductivity(raw.get("IC (Bulk)", ""), path=path, line=line, column="IC (Bulk)", required=False)
        composition = (raw.get("True Composition") or raw["Reduced Composition"]).strip()
        reduced = raw["Reduced Composition"].strip()
        family_reported = (raw["Family"] or "").strip()
        rows.append({
            "external_id": external_id[:40],
            "composition": (reduced or composition)[:200],
            "family_reported": family_reported[:80],
            "family": map_obelix_family(family_reported, reduced or composition),
            "conductivity_s_per_cm": sigma,
            "is_upper_bound": upper,
            "conductivity_total_s_per_cm": total,
            "conductivity_bulk_s_per_cm": bulk,
            "space_group": (raw.get("Space group") or "").strip()[:30],
            "doi": (raw["DOI"] or "").strip()[:200],
        })
    ids = [r["external_id"] for r in rows]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise LiteratureImportError(f"{path.name}: ID {duplicate!r} appears more than once")
    return rows


@transaction.atomic
def import_literature(path: str | Path | None = None, *, dataset: str = "OBELiX",
                      progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import reported room-temperature conductivities (OBELiX CSV) as LiteratureValue rows.

    Idempotent: rows are keyed on (dataset, ID); a second import changes
    nothing. The whole file is checked before anything is written, so a bad
    line stores nothing. `progress(done, total)` is called every 100 rows.
    """
    path = Path(path) if path else default_literature_path()
    rows = _read_obelix(path)
    existing = {v.external_id: v for v in LiteratureValue.objects.filter(dataset=dataset)}
    to_create, to_update = [], []
    for done, row in enumerate(rows, start=1):
        current = existing.get(row["external_id"])
        if current is None:
            to_create.append(LiteratureValue(dataset=dataset, **row))
        elif any(getattr(current, name) != row[name] for name in LITERATURE_FIELDS):
            for name in LITERATURE_FIELDS:
                setattr(current, name, row[name])
            to_update.append(current)
        if progress and (done % 100 == 0 or done == len(rows)):
            progress(done, len(rows))
    LiteratureValue.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        LiteratureValue.objects.bulk_update(to_update, LITERATURE_FIELDS, batch_size=500)
    return ImportReport(total=len(rows), created=len(to_create), updated=len(to_update),
                        unchanged=len(rows) - len(to_create) - len(to_update))
