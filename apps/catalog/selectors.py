"""Reads of catalog records, each through the visibility rule."""
from django.db.models import Prefetch, QuerySet

from apps.accounts.selectors import shared_for_anonymous, visible_q

from .models import (
    Cell, CellLayer, Electrode, Interface, InterfaceEvidence, Material, Separator, SeparatorComponent, Source,
)


@shared_for_anonymous
def visible_separators(*, user) -> QuerySet[Separator]:
    return (
        Separator.objects.filter(visible_q(user))
        .select_related("group", "source")
        .prefetch_related(Prefetch("components", SeparatorComponent.objects.select_related("material")))
    )


@shared_for_anonymous
def visible_cells(*, user) -> QuerySet[Cell]:
    return (
        Cell.objects.filter(visible_q(user))
        .select_related("group", "source", "separator")
        # A layer's separator or electrode is shown only to those who see it: the records are read (joined to the
        # layers: one query), not just ids.
        .prefetch_related(
            Prefetch("layers", CellLayer.objects.select_related("separator", "electrode")), "pressure_steps", "interfaces"
        )
    )


def visible_electrodes(*, user) -> QuerySet[Electrode]:
    return Electrode.objects.filter(visible_q(user)).select_related("group", "active_material")


def visible_interfaces(*, user) -> QuerySet[Interface]:
    return (
        Interface.objects.filter(visible_q(user))
        .select_related("group", "material_a", "material_b", "interlayer_material", "source")
        .prefetch_related(Prefetch("evidence", InterfaceEvidence.objects.select_related("source")))
    )


def all_materials() -> QuerySet[Material]:
    """Materials are shared reference data."""
    return Material.objects.all()


def all_sources() -> QuerySet[Source]:
    return Source.objects.all()
