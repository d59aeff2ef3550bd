"""Deleting unreleased records, with everything that hangs on them.

A separator takes its cells with it, a cell its spectra, DC polarisations,
CCD tests and raw files, a spectrum its fits, Kramers–Kronig check and
conductivities (database cascade); the jobs that targeted any of them go too.
A raw file's bytes leave storage after commit, once no row names them any
more (files are content-addressed: another group may hold the same bytes).
Every row must belong to the record's group, and a record that is in a
release is refused, naming the release: it is retracted, never deleted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q

from apps.accounts.selectors import can_edit
from apps.catalog.models import Cell, CellLayer, Electrode, Interface, Separator
from apps.jobs.models import Job
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile

from .models import RecordKind, ReleaseRecord


@dataclass
class DeletionPlan:
    """The rows a deletion removes, grouped by kind."""

    record: object
    separators: list = field(default_factory=list)
    cells: list = field(default_factory=list)
    spectra: list = field(default_factory=list)
    dc_polarisations: list = field(default_factory=list)
    ccd_tests: list = field(default_factory=list)
    raw_files: list = field(default_factory=list)
    others: list = field(default_factory=list)  # electrodes, interfaces

    def summary(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in (
            "separators", "cells", "spectra", "dc_polarisations", "ccd_tests", "raw_files", "others")}


def deletion_plan(*, record) -> DeletionPlan:
    """What deleting `record` removes (nothing is deleted here)."""
    plan = DeletionPlan(record=record)
    if isinstance(record, Separator):
        plan.separators = [record]
        plan.cells = list(Cell.objects.filter(Q(separator=record) | Q(layers__separator=record)).distinct()
                          .order_by("pk"))
    elif isinstance(record, Cell):
        plan.cells = [record]
    elif isinstance(record, ImpedanceSpectrum):
        plan.spectra = [record]
    elif isinstance(record, (Electrode, Interface)):
        plan.others = [record]
    else:
        raise ValidationError({"record": f"A {type(record).__name__} cannot be deleted here."})
    cell_ids = [c.pk for c in plan.cells]
    if cell_ids:
        plan.spectra = list(ImpedanceSpectrum.objects.filter(cell__in=cell_ids).defer("data").order_by("pk"))
        plan.dc_polarisations = list(DCPolarisation.objects.filter(cell__in=cell_ids).order_by("pk"))
        plan.ccd_tests = list(CriticalCurrentDensityTest.objects.filter(cell__in=cell_ids).order_by("pk"))
    spectrum_ids = {s.pk for s in plan.spectra}
    raw_ids = {s.raw_file_id for s in plan.spectra if s.raw_file_id}
    raw_q = Q(pk__in=raw_ids) | Q(cell__in=cell_ids)
    plan.raw_files = [raw for raw in RawFile.objects.filter(raw_q).order_by("pk")
                      if not raw.spectra.exclude(pk__in=spectrum_ids).exists()]
    return plan


def _released(kind: str, ids) -> dict[int, str]:
    rows = ReleaseRecord.objects.filter(kind=kind, object_id__in=list(ids)).select_related("release",
                                                                                           "release__group")
    return {row.object_id: row.release.label for row in rows}


def check_deletable(plan: DeletionPlan, *, user) -> None:
    """PermissionDenied naming the record and the release, or the group, when the plan may not run."""
    rows = [*plan.separators, *plan.cells, *plan.spectra, *plan.dc_polarisations, *plan.ccd_tests,
            *plan.raw_files, *plan.others]
    for row in rows:
        if not can_edit(row, user):
            raise PermissionDenied(f"{type(row)._meta.verbose_name.capitalize()} {row} belongs to a group you are not "
                                   f"a member of; it cannot be deleted by you.")
    for kind, items in ((RecordKind.SEPARATOR, plan.separators), (RecordKind.CELL, plan.cells),
                        (RecordKind.SPECTRUM, plan.spectra)):
        released = _released(kind, [row.pk for row in items])
        if released:
            row = next(r for r in items if r.pk in released)
            raise PermissionDenied(f"{kind.label} {row} is in release {released[row.pk]}: released records cannot be "
                                   "deleted; retract it with a reason instead.")
    electrodes = [o.pk for o in plan.others if isinstance(o, Electrode)]
    if electrodes:
        users = CellLayer.objects.filter(electrode__in=electrodes).select_related("cell")
        names = sorted({layer.cell.name for layer in users})
        if names:
            raise ValidationError({"record": f"Electrode {plan.record} is a layer of cell(s) {', '.join(names)}; "
                                             "delete or change those cells first."})


@transaction.atomic
def record_delete(*, record, user) -> dict[str, int]:
    """Delete an unreleased `record` and what hangs on it; the counts of rows removed, by kind."""
    plan = deletion_plan(record=record)
    check_deletable(plan, user=user)
    summary = plan.summary()
    targets = Q()
    for target_type, items in (("separator", plan.separators), ("cell", plan.cells), ("spectrum", plan.spectra)):
        if items:
            targets |= Q(target_type=target_type, target_id__in=[row.pk for row in items])
    summary["jobs"] = Job.objects.filter(targets).delete()[0] if targets else 0
    for row in plan.spectra:
        row.delete()
    for row in [*plan.dc_polarisations, *plan.ccd_tests]:
        row.delete()
    file_names = {raw.file.name for raw in plan.raw_files if raw.file.name}
    for raw in plan.raw_files:
        raw.delete()
    for cell in plan.cells:
        cell.delete()
    for separator in plan.separators:
        separator.delete()
    for other in plan.others:
        other.delete()
    transaction.on_commit(lambda: remove_unreferenced_files(file_names))
    return summary


def remove_unreferenced_files(names) -> list[str]:
    """Delete from storage each of `names` that no raw-file row names any more; the names removed."""
    removed = []
    for name in sorted(names):
        if not RawFile.objects.filter(file=name).exists() and default_storage.exists(name):
            default_storage.delete(name)
            removed.append(name)
    return removed
