"""Filters a researcher asks for, as plain django-filter FilterSets (the API and the browse pages share them).

Filters through many-valued relations (components, pressure steps, benchmark
entries) use `pk__in` subqueries, so a record never appears twice in a list.
"""
import django_filters
from django.db.models import Q, QuerySet

from apps.accounts.models import Visibility
from apps.common.filters import IdFilter, IntegerFilter, LabelledFilterSet

from .models import (
    Cell,
    Electrode,
    Interface,
    InterfaceEvidence,
    Material,
    MaterialFamily,
    PressureStep,
    ProcessingRoute,
    Separator,
    SeparatorComponent,
    Source,
)
from .services import normalise_doi


def filter_doi(queryset: QuerySet, prefix: str, value: str) -> QuerySet:
    """Records whose source DOI matches `value` in any spelling (doi:, https://doi.org/, case)."""
    if not value:
        return queryset
    return queryset.filter(**{f"{prefix}source__doi__iexact": normalise_doi(value)})


def separators_of_family(family: str) -> QuerySet:
    """Ids of separators that contain a material of `family`."""
    return SeparatorComponent.objects.filter(material__family=family).values("separator_id")


class OwnedRecordFilterSet(LabelledFilterSet):
    """Group, visibility and creation date: every owned record has them."""

    group = IdFilter(field_name="group_id", help_text="Research group id.")
    group_slug = django_filters.CharFilter(field_name="group__slug", help_text="Research group slug.")
    visibility = django_filters.ChoiceFilter(choices=Visibility.choices)
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", help_text="Created on or after this date (YYYY-MM-DD)."
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", help_text="Created on or before this date (YYYY-MM-DD)."
    )


class MaterialFilterSet(LabelledFilterSet):
    family = django_filters.ChoiceFilter(choices=MaterialFamily.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Material
        fields = ["family", "name"]


class SourceFilterSet(LabelledFilterSet):
    doi = django_filters.CharFilter(method="filter_doi", help_text="DOI, any spelling.")
    year_min = IntegerFilter(field_name="year", lookup_expr="gte")
    year_max = IntegerFilter(field_name="year", lookup_expr="lte")

    class Meta:
        model = Source
        fields = ["doi", "year_min", "year_max"]

    def filter_doi(self, queryset, name, value):
        return queryset.filter(doi__iexact=normalise_doi(value)) if value else queryset


class SeparatorFilterSet(OwnedRecordFilterSet):
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, method="filter_family", help_text="Contains a material of this family."
    )
    material = IdFilter(method="filter_material", help_text="Contains this material (id).")
    processing_route = django_filters.ChoiceFilter(choices=ProcessingRoute.choices)
    form = django_filters.ChoiceFilter(choices=Separator.Form.choices, label="Separator form")
    thickness_um_min = django_filters.NumberFilter(field_name="thickness_um", lookup_expr="gte")
    thickness_um_max = django_filters.NumberFilter(field_name="thickness_um", lookup_expr="lte")
    densification_pressure_mpa_min = django_filters.NumberFilter(
        field_name="densification_pressure_mpa", lookup_expr="gte"
    )
    densification_pressure_mpa_max = django_filters.NumberFilter(
        field_name="densification_pressure_mpa", lookup_expr="lte"
    )
    relative_density_min = django_filters.NumberFilter(field_name="relative_density", lookup_expr="gte")
    doi = django_filters.CharFilter(method="filter_doi", help_text="Source DOI, any spelling.")
    completeness_min = django_filters.NumberFilter(
        method="filter_completeness_min",
        help_text="Has at least one benchmark entry whose reporting-completeness score is at least this (0–1).",
    )

    class Meta:
        model = Separator
        fields: list[str] = []

    def filter_family(self, queryset, name, value):
        return queryset.filter(pk__in=separators_of_family(value)) if value else queryset

    def filter_material(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(pk__in=SeparatorComponent.objects.filter(material_id=value).values("separator_id"))

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "", value)

    def filter_completeness_min(self, queryset, name, value):
        if value is None:
            return queryset
        from apps.benchmarks.models import BenchmarkEntry

        entries = BenchmarkEntry.objects.filter(
            separator__isnull=False, cell__isnull=True, completeness_score__gte=value
        ).values("separator_id")
        return queryset.filter(pk__in=entries)


class ElectrodeFilterSet(OwnedRecordFilterSet):
    kind = django_filters.ChoiceFilter(choices=Electrode.Kind.choices, label="Electrode kind")
    is_metal_foil = django_filters.BooleanFilter()
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, field_name="active_material__family", label="Active material family",
        help_text="Family of the active material."
    )
    thickness_um_min = django_filters.NumberFilter(
        field_name="thickness_um", lookup_expr="gte", label="Electrode thickness from (µm)"
    )
    thickness_um_max = django_filters.NumberFilter(
        field_name="thickness_um", lookup_expr="lte", label="Electrode thickness to (µm)"
    )

    class Meta:
        model = Electrode
        fields: list[str] = []


class InterfaceFilterSet(OwnedRecordFilterSet):
    material = IdFilter(method="filter_material", help_text="Either side or the interlayer (id).")
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, method="filter_family", help_text="Either side or the interlayer is of it."
    )
    has_interlayer = django_filters.BooleanFilter(field_name="interlayer_material", lookup_expr="isnull", exclude=True)
    technique = django_filters.ChoiceFilter(
        choices=InterfaceEvidence.Technique.choices, method="filter_technique", help_text="Has evidence from it."
    )
    doi = django_filters.CharFilter(method="filter_doi", help_text="Source DOI, any spelling.")

    class Meta:
        model = Interface
        fields: list[str] = []

    def filter_material(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(Q(material_a_id=value) | Q(material_b_id=value) | Q(interlayer_material_id=value))

    def filter_family(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(
            Q(material_a__family=value) | Q(material_b__family=value) | Q(interlayer_material__family=value)
        )

    def filter_technique(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(pk__in=InterfaceEvidence.objects.filter(technique=value).values("interface_id"))

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "", value)


class CellFilterSet(OwnedRecordFilterSet):
    configuration = django_filters.ChoiceFilter(choices=Cell.Configuration.choices)
    housing = django_filters.ChoiceFilter(choices=Cell.Housing.choices)
    electrode_contact = django_filters.ChoiceFilter(choices=Cell.ElectrodeContact.choices)
    separator = IdFilter(field_name="separator_id", help_text="Separator id.")
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, method="filter_family", field_name="separator",
        help_text="Its separator contains this family.",
    )
    processing_route = django_filters.ChoiceFilter(
        choices=ProcessingRoute.choices, field_name="separator__processing_route"
    )
    thickness_um_min = django_filters.NumberFilter(field_name="separator__thickness_um", lookup_expr="gte")
    thickness_um_max = django_filters.NumberFilter(field_name="separator__thickness_um", lookup_expr="lte")
    stack_pressure_mpa_min = django_filters.NumberFilter(
        method="filter_pressure_min", help_text="Has a measurement step at this stack pressure or above (MPa)."
    )
    stack_pressure_mpa_max = django_filters.NumberFilter(
        method="filter_pressure_max", help_text="Has a measurement step at this stack pressure or below (MPa)."
    )
    interface = IdFilter(field_name="interfaces", help_text="Contains this interface (id).")
    doi = django_filters.CharFilter(method="filter_doi", help_text="Source DOI, any spelling.")
    assembled_after = django_filters.DateFilter(field_name="assembled_on", lookup_expr="gte")
    assembled_before = django_filters.DateFilter(field_name="assembled_on", lookup_expr="lte")

    class Meta:
        model = Cell
        fields: list[str] = []

    def filter_family(self, queryset, name, value):
        return queryset.filter(separator_id__in=separators_of_family(value)) if value else queryset

    def _measurement_steps(self, **lookup):
        return PressureStep.objects.filter(phase=PressureStep.Phase.MEASUREMENT, **lookup).values("cell_id")

    def filter_pressure_min(self, queryset, name, value):
        return queryset if value is None else queryset.filter(pk__in=self._measurement_steps(pressure_mpa__gte=value))

    def filter_pressure_max(self, queryset, name, value):
        return queryset if value is None else queryset.filter(pk__in=self._measurement_steps(pressure_mpa__lte=value))

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "", value)


__all__ = [
    "CellFilterSet",
    "ElectrodeFilterSet",
    "InterfaceFilterSet",
    "MaterialFilterSet",
    "OwnedRecordFilterSet",
    "SeparatorFilterSet",
    "SourceFilterSet",
    "filter_doi",
    "separators_of_family",
]
