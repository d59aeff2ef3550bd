"""Filters over benchmark entries and literature values (plain django-filter FilterSets)."""
import django_filters
from django.db.models import Q

from apps.catalog.models import Cell, MaterialFamily, ProcessingRoute
from apps.catalog.services import normalise_doi
from apps.common.filters import IdFilter, LabelledFilterSet

from .models import BenchmarkEntry, LiteratureValue, Metric


class BenchmarkEntryFilterSet(LabelledFilterSet):
    metric = django_filters.ChoiceFilter(choices=Metric.choices)
    family = django_filters.ChoiceFilter(choices=MaterialFamily.choices)
    separator = IdFilter(field_name="separator_id")
    cell = IdFilter(field_name="cell_id")
    subject = django_filters.ChoiceFilter(
        choices=[("separator", "Separator entries"), ("cell", "Cell entries")], method="filter_subject"
    )
    group = IdFilter(method="filter_group", help_text="Group of the separator or cell (id).")
    processing_route = django_filters.ChoiceFilter(
        choices=ProcessingRoute.choices, field_name="separator__processing_route"
    )
    configuration = django_filters.ChoiceFilter(choices=Cell.Configuration.choices, field_name="cell__configuration")
    completeness_min = django_filters.NumberFilter(field_name="completeness_score", lookup_expr="gte")
    completeness_max = django_filters.NumberFilter(field_name="completeness_score", lookup_expr="lte")
    value_min = django_filters.NumberFilter(field_name="value", lookup_expr="gte")
    value_max = django_filters.NumberFilter(field_name="value", lookup_expr="lte")
    temperature_c_min = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="gte")
    temperature_c_max = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="lte")
    stack_pressure_mpa_min = django_filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="gte")
    stack_pressure_mpa_max = django_filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="lte")
    thickness_um_min = django_filters.NumberFilter(field_name="thickness_um", lookup_expr="gte")
    thickness_um_max = django_filters.NumberFilter(field_name="thickness_um", lookup_expr="lte")
    blocking = django_filters.BooleanFilter(help_text="false: only entries without a blocking flag.")
    doi = django_filters.CharFilter(method="filter_doi", help_text="Source DOI of the cell or separator.")
    computed_after = django_filters.DateFilter(field_name="computed_at", lookup_expr="date__gte")
    computed_before = django_filters.DateFilter(field_name="computed_at", lookup_expr="date__lte")

    class Meta:
        model = BenchmarkEntry
        fields: list[str] = []

    def filter_subject(self, queryset, name, value):
        if value == "separator":
            return queryset.filter(cell__isnull=True)
        if value == "cell":
            return queryset.filter(cell__isnull=False)
        return queryset

    def filter_group(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(
            Q(cell__isnull=False, cell__group_id=value) | Q(cell__isnull=True, separator__group_id=value)
        )

    def filter_doi(self, queryset, name, value):
        if not value:
            return queryset
        doi = normalise_doi(value)
        return queryset.filter(Q(cell__source__doi__iexact=doi) | Q(separator__source__doi__iexact=doi))


class LiteratureValueFilterSet(LabelledFilterSet):
    family = django_filters.ChoiceFilter(choices=MaterialFamily.choices)
    dataset = django_filters.CharFilter()
    conductivity_s_per_cm_min = django_filters.NumberFilter(field_name="conductivity_s_per_cm", lookup_expr="gte")
    conductivity_s_per_cm_max = django_filters.NumberFilter(field_name="conductivity_s_per_cm", lookup_expr="lte")
    doi = django_filters.CharFilter(method="filter_doi")

    class Meta:
        model = LiteratureValue
        fields: list[str] = []

    def filter_doi(self, queryset, name, value):
        return queryset.filter(doi__iexact=normalise_doi(value)) if value else queryset
