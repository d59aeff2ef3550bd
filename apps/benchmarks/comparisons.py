"""Whose data counts: accepting other groups' cells into a separator's entries, and the round robin of the rest.

A separator's benchmark entries are computed from its own group's cells and
from cells of other groups that a member of the separator's group accepted
(`ComparisonAcceptance`: who, when, why). Every other group's cells on the
separator appear in `separator_round_robin`: one row per group, its numbers
computed from its own cells only and attributed to it, next to the owner's
row, never averaged into the owner's entries. The round robin is computed
for the viewer from what the viewer may see.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from apps.accounts.models import ResearchGroup
from apps.accounts.references import can_see
from apps.accounts.selectors import can_edit
from apps.catalog.models import Cell, Separator

from . import metrics, selectors
from .models import ComparisonAcceptance, Metric

#: What a round-robin row reports (the separator-level numbers a second group can reproduce).
ROUND_ROBIN_METRICS = (
    Metric.SIGMA_25C_TOTAL, Metric.SIGMA_25C_BULK, Metric.SIGMA_25C_GRAIN_BOUNDARY, Metric.ACTIVATION_ENERGY,
    Metric.ELECTRONIC_CONDUCTIVITY,
)


def _require_separator_member(separator: Separator, user) -> None:
    if not can_edit(separator, user):
        raise PermissionDenied(
            f"Only members of {separator.group} decide which cells count toward separator “{separator}”."
        )


def _check_foreign_cell(separator: Separator, cell: Cell, user) -> None:
    if not can_see(user, cell):
        raise ValidationError({"cell": f"Cell {cell.pk} does not exist or is not visible to you."})
    if cell.pk not in {c.pk for c in selectors.cells_on_separator(separator)}:
        raise ValidationError({"cell": f"Cell “{cell.name}” is not built on separator “{separator}”."})
    if cell.group_id == separator.group_id:
        raise ValidationError({"cell": f"Cell “{cell.name}” belongs to {separator.group}: its data count already."})


@transaction.atomic
def accept_cell(*, separator: Separator, cell: Cell, user, note: str = "") -> ComparisonAcceptance:
    """A member of the separator's group counts another group's cell in the separator's entries (recomputed)."""
    _require_separator_member(separator, user)
    _check_foreign_cell(separator, cell, user)
    try:
        with transaction.atomic():
            return ComparisonAcceptance.objects.create(
                separator=separator, cell=cell, accepted_by=user if user.is_authenticated else None, note=note[:300]
            )
    except IntegrityError:
        return ComparisonAcceptance.objects.get(separator=separator, cell=cell)


@transaction.atomic
def withdraw_acceptance(*, separator: Separator, cell: Cell, user) -> bool:
    """The cell stops counting toward the separator's entries (recomputed). False when it was not accepted."""
    _require_separator_member(separator, user)
    deleted, _ = ComparisonAcceptance.objects.filter(separator=separator, cell=cell).delete()
    return bool(deleted)


def acceptances(*, separator: Separator, user) -> list[ComparisonAcceptance]:
    """The separator's accepted cells the viewer may see, with who accepted them and when."""
    rows = ComparisonAcceptance.objects.filter(separator=separator).select_related(
        "cell", "cell__group", "accepted_by"
    )
    return [row for row in rows if can_see(user, row.cell)]


@dataclass
class RoundRobinValue:
    metric: str
    label: str
    value: float
    unit: str
    stderr: float | None
    method: str


@dataclass
class RoundRobinRow:
    """One group's numbers for the separator, from that group's cells only."""

    group: ResearchGroup
    counted_in_entries: bool  # the owner's row: the numbers behind the separator's own entries
    cells: list[Cell]
    values: list[RoundRobinValue] = field(default_factory=list)


def _pending_cells(separator: Separator, user) -> dict[int, list[Cell]]:
    """Other groups' cells on the separator, not accepted, visible to the viewer, by group id."""
    by_group: dict[int, list[Cell]] = {}
    for cell in selectors.other_groups_cells_on_separator(separator, user):
        by_group.setdefault(cell.group_id, []).append(cell)
    return by_group


def _values(separator: Separator, cells: list[Cell], user) -> list[RoundRobinValue]:
    keep = functools.partial(can_see, user)
    computed = metrics.separator_metrics(separator, cells=cells, keep=keep)
    return [
        RoundRobinValue(
            metric=v.metric, label=Metric(v.metric).label, value=v.value, unit=v.unit,
            stderr=v.stderr, method=v.method,
        )
        for v in computed if v.metric in ROUND_ROBIN_METRICS
    ]


def separator_round_robin(*, separator: Separator, user) -> list[RoundRobinRow]:
    """The owner's numbers (its cells and accepted ones) and, per other group, that group's own numbers.

    Empty when no other group's cell on the separator is visible to the viewer.
    """
    pending = _pending_cells(separator, user)
    if not pending:
        return []
    counted = [c for c in selectors.cells_of_separator(separator) if can_see(user, c)]
    rows = [RoundRobinRow(group=separator.group, counted_in_entries=True, cells=counted,
                          values=_values(separator, counted, user) if counted else [])]
    groups = {g.pk: g for g in ResearchGroup.objects.filter(pk__in=pending)}
    for group_id in sorted(pending, key=lambda pk: groups[pk].name):
        cells = pending[group_id]
        rows.append(RoundRobinRow(group=groups[group_id], counted_in_entries=False, cells=cells,
                                  values=_values(separator, cells, user)))
    return rows
