"""Recompute benchmark entries when a catalog or measurement input changes.

The catalog and measurement services belong to other apps, so edits reach us
as model signals. Every change in a transaction adds its separator / cell ids
to one pending set on the connection; when the transaction commits, the set
is queued as recomputation jobs (`queueing.queue_recompute_jobs`: one Job row per
separator or cell, debounced), so a cell created with ten pressure steps is
recomputed once, not eleven times.
"""
from __future__ import annotations

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.catalog.models import Cell, Interface, PressureStep, Separator, SeparatorComponent
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum

from .models import ComparisonAcceptance

_PENDING = "_benchmark_recompute_pending"


def _pending(connection) -> dict[str, set[int]]:
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        pending = {"separator_ids": set(), "cell_ids": set()}
        setattr(connection, _PENDING, pending)
    return pending


def _flush(connection) -> None:
    pending = _pending(connection)
    separator_ids, cell_ids = sorted(pending["separator_ids"]), sorted(pending["cell_ids"])
    pending["separator_ids"].clear()
    pending["cell_ids"].clear()
    if not separator_ids and not cell_ids:
        return  # an earlier callback of the same commit already sent them
    from .queueing import queue_recompute_jobs

    queue_recompute_jobs(separator_ids=separator_ids, cell_ids=cell_ids)


def request_recompute(*, separator_ids=(), cell_ids=(), using: str = "default") -> None:
    """Add ids to the pending recomputation, sent once the current transaction commits."""
    separator_ids = {i for i in separator_ids if i}
    cell_ids = {i for i in cell_ids if i}
    if not separator_ids and not cell_ids:
        return
    connection = transaction.get_connection(using)
    pending = _pending(connection)
    pending["separator_ids"].update(separator_ids)
    pending["cell_ids"].update(cell_ids)
    transaction.on_commit(lambda: _flush(connection), using=using)


@receiver(post_save, sender=Separator)
def _separator_saved(sender, instance, raw=False, using="default", **kwargs):
    if not raw:
        request_recompute(separator_ids=[instance.pk], using=using)


@receiver([post_save, post_delete], sender=SeparatorComponent)
def _component_changed(sender, instance, raw=False, using="default", **kwargs):
    if not raw:
        request_recompute(separator_ids=[instance.separator_id], using=using)


@receiver(post_save, sender=Cell)
def _cell_saved(sender, instance, raw=False, using="default", **kwargs):
    if not raw:
        request_recompute(cell_ids=[instance.pk], separator_ids=[instance.separator_id], using=using)


@receiver(post_delete, sender=Cell)
def _cell_deleted(sender, instance, using="default", **kwargs):
    request_recompute(separator_ids=[instance.separator_id], using=using)


@receiver(m2m_changed, sender=Cell.interfaces.through)
def _cell_interfaces_changed(sender, instance, action, using="default", **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Cell):
        request_recompute(cell_ids=[instance.pk], using=using)


@receiver(post_save, sender=Interface)
def _interface_saved(sender, instance, raw=False, using="default", **kwargs):
    if not raw and instance.pk:
        request_recompute(cell_ids=list(instance.cells.values_list("pk", flat=True)), using=using)


@receiver([post_save, post_delete], sender=PressureStep)
@receiver([post_save, post_delete], sender=DCPolarisation)
@receiver([post_save, post_delete], sender=CriticalCurrentDensityTest)
@receiver([post_save, post_delete], sender=ImpedanceSpectrum)
def _cell_input_changed(sender, instance, raw=False, using="default", **kwargs):
    if not raw:
        request_recompute(cell_ids=[instance.cell_id], using=using)


@receiver([post_save, post_delete], sender=ComparisonAcceptance)
def _acceptance_changed(sender, instance, raw=False, using="default", **kwargs):
    """Whose data counts changed: the separator's entries are recomputed with or without the cell."""
    if not raw:
        request_recompute(separator_ids=[instance.separator_id], using=using)
