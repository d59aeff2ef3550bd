"""Filters over spectra and raw files (plain django-filter FilterSets, shared by the API and the browse pages)."""
import django_filters

from apps.analysis.models import KKVerdict
from apps.catalog.filters import OwnedRecordFilterSet, filter_doi, separators_of_family
from apps.catalog.models import Cell, MaterialFamily, ProcessingRoute
from apps.common.filters import IdFilter, IntegerFilter

from .models import Atmosphere, ImpedanceSpectrum, RawFile


class SpectrumFilterSet(OwnedRecordFilterSet):
    cell = IdFilter(field_name="cell_id", help_text="Cell id.")
    separator = IdFilter(field_name="cell__separator_id", help_text="Separator id.")
    raw_file = IdFilter(field_name="raw_file_id", help_text="Raw file id.")
    configuration = django_filters.ChoiceFilter(choices=Cell.Configuration.choices, field_name="cell__configuration")
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, method="filter_family", field_name="cell__separator",
        help_text="The cell's separator contains this family.",
    )
    processing_route = django_filters.ChoiceFilter(
        choices=ProcessingRoute.choices, field_name="cell__separator__processing_route"
    )
    temperature_c_min = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="gte")
    temperature_c_max = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="lte")
    stack_pressure_mpa_min = django_filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="gte")
    stack_pressure_mpa_max = django_filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="lte")
    thickness_um_min = django_filters.NumberFilter(field_name="cell__separator__thickness_um", lookup_expr="gte")
    thickness_um_max = django_filters.NumberFilter(field_name="cell__separator__thickness_um", lookup_expr="lte")
    cycle_index_min = IntegerFilter(field_name="cycle_index", lookup_expr="gte")
    cycle_index_max = IntegerFilter(field_name="cycle_index", lookup_expr="lte")
    atmosphere = django_filters.ChoiceFilter(choices=Atmosphere.choices)
    mode = django_filters.ChoiceFilter(choices=ImpedanceSpectrum.Mode.choices)
    kk_passed = django_filters.BooleanFilter(
        method="filter_kk_passed", field_name="kk_check__verdict",
        help_text="Kramers–Kronig verdict passed (true) or failed (false); neither matches a spectrum too short to judge.",
    )
    kk_verdict = django_filters.ChoiceFilter(
        choices=KKVerdict.choices, field_name="kk_check__verdict", help_text="Kramers–Kronig verdict.",
    )
    measured_after = django_filters.DateFilter(field_name="measured_at", lookup_expr="date__gte")
    measured_before = django_filters.DateFilter(field_name="measured_at", lookup_expr="date__lte")
    doi = django_filters.CharFilter(
        method="filter_doi", field_name="cell__source", help_text="DOI of the cell's source, any spelling."
    )

    class Meta:
        model = ImpedanceSpectrum
        fields: list[str] = []

    def filter_kk_passed(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(kk_check__verdict=KKVerdict.PASSED if value else KKVerdict.FAILED)

    def filter_family(self, queryset, name, value):
        return queryset.filter(cell__separator_id__in=separators_of_family(value)) if value else queryset

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "cell__", value)


class RawFileFilterSet(OwnedRecordFilterSet):
    cell = IdFilter(field_name="cell_id")
    file_format = django_filters.CharFilter(
        field_name="format", lookup_expr="iexact", help_text="Detected format, e.g. gamry."
    )
    sha256 = django_filters.CharFilter(
        method="filter_sha256",
        help_text="SHA-256 of the file's bytes (hex, any case): is this exact file already stored (and visible to you)?",
    )

    class Meta:
        model = RawFile
        fields: list[str] = []

    def filter_sha256(self, queryset, name, value):
        # Stored lower-case; an exact match uses the index, where iexact would not on PostgreSQL.
        return queryset.filter(sha256=value.strip().lower()) if value else queryset
