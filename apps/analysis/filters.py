"""Filters over fits, conductivities, Arrhenius fits, protocols and jobs (plain django-filter FilterSets)."""
import django_filters

from apps.catalog.filters import filter_doi, separators_of_family
from apps.catalog.models import Cell, MaterialFamily, ProcessingRoute
from apps.common.filters import IdFilter, LabelledFilterSet
from apps.jobs.models import Job

from .models import ArrheniusFit, ArrheniusForm, Conductivity, ConductivityKind, FitProtocol, FitResult, FitStatus


class SpectrumContextFilterSet(LabelledFilterSet):
    """Filters on the spectrum (and its cell and separator) a result was computed from; `spectrum__` prefixed."""

    spectrum = IdFilter(field_name="spectrum_id", help_text="Spectrum id.")
    cell = IdFilter(field_name="spectrum__cell_id", help_text="Cell id.")
    separator = IdFilter(field_name="spectrum__cell__separator_id", help_text="Separator id.")
    group = IdFilter(field_name="spectrum__group_id", help_text="Research group id.")
    configuration = django_filters.ChoiceFilter(
        choices=Cell.Configuration.choices, field_name="spectrum__cell__configuration"
    )
    family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices, method="filter_family", help_text="The separator contains this family."
    )
    processing_route = django_filters.ChoiceFilter(
        choices=ProcessingRoute.choices, field_name="spectrum__cell__separator__processing_route"
    )
    temperature_c_min = django_filters.NumberFilter(field_name="spectrum__temperature_c", lookup_expr="gte")
    temperature_c_max = django_filters.NumberFilter(field_name="spectrum__temperature_c", lookup_expr="lte")
    stack_pressure_mpa_min = django_filters.NumberFilter(field_name="spectrum__stack_pressure_mpa", lookup_expr="gte")
    stack_pressure_mpa_max = django_filters.NumberFilter(field_name="spectrum__stack_pressure_mpa", lookup_expr="lte")
    thickness_um_min = django_filters.NumberFilter(
        field_name="spectrum__cell__separator__thickness_um", lookup_expr="gte"
    )
    thickness_um_max = django_filters.NumberFilter(
        field_name="spectrum__cell__separator__thickness_um", lookup_expr="lte"
    )
    doi = django_filters.CharFilter(method="filter_doi", help_text="DOI of the cell's source, any spelling.")

    def filter_family(self, queryset, name, value):
        return queryset.filter(spectrum__cell__separator_id__in=separators_of_family(value)) if value else queryset

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "spectrum__cell__", value)


class FitResultFilterSet(SpectrumContextFilterSet):
    protocol = IdFilter(field_name="protocol_id")
    protocol_name = django_filters.CharFilter(field_name="protocol__name")
    is_standard = django_filters.BooleanFilter(field_name="protocol__is_standard", help_text="Standard protocols only.")
    status = django_filters.ChoiceFilter(choices=FitStatus.choices, label="Fit status")
    converged = django_filters.BooleanFilter()
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = FitResult
        fields: list[str] = []


class ConductivityFilterSet(SpectrumContextFilterSet):
    kind = django_filters.ChoiceFilter(choices=ConductivityKind.choices, label="Conductivity kind")
    fit = IdFilter(field_name="fit_id")
    protocol = IdFilter(field_name="fit__protocol_id")
    is_standard = django_filters.BooleanFilter(field_name="fit__protocol__is_standard")
    temperature_c_min = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="gte")
    temperature_c_max = django_filters.NumberFilter(field_name="temperature_c", lookup_expr="lte")
    conductivity_s_per_cm_min = django_filters.NumberFilter(field_name="conductivity_s_per_cm", lookup_expr="gte")
    conductivity_s_per_cm_max = django_filters.NumberFilter(field_name="conductivity_s_per_cm", lookup_expr="lte")
    thickness_um_min = django_filters.NumberFilter(
        field_name="thickness_um", lookup_expr="gte", label="Thickness used from (µm)"
    )
    thickness_um_max = django_filters.NumberFilter(
        field_name="thickness_um", lookup_expr="lte", label="Thickness used to (µm)"
    )

    class Meta:
        model = Conductivity
        fields: list[str] = []


class ArrheniusFitFilterSet(LabelledFilterSet):
    separator = IdFilter(field_name="separator_id")
    group = IdFilter(field_name="separator__group_id")
    protocol = IdFilter(field_name="protocol_id")
    is_standard = django_filters.BooleanFilter(field_name="protocol__is_standard")
    kind = django_filters.ChoiceFilter(choices=ConductivityKind.choices, label="Conductivity kind")
    form = django_filters.ChoiceFilter(choices=ArrheniusForm.choices, label="Arrhenius form")
    family = django_filters.ChoiceFilter(choices=MaterialFamily.choices, method="filter_family")
    processing_route = django_filters.ChoiceFilter(
        choices=ProcessingRoute.choices, field_name="separator__processing_route"
    )
    activation_energy_ev_min = django_filters.NumberFilter(field_name="activation_energy_ev", lookup_expr="gte")
    activation_energy_ev_max = django_filters.NumberFilter(field_name="activation_energy_ev", lookup_expr="lte")
    sigma_25c_s_per_cm_min = django_filters.NumberFilter(field_name="sigma_25c_s_per_cm", lookup_expr="gte")
    extrapolated_25c = django_filters.BooleanFilter()
    doi = django_filters.CharFilter(method="filter_doi", help_text="Separator's source DOI, any spelling.")

    class Meta:
        model = ArrheniusFit
        fields: list[str] = []

    def filter_family(self, queryset, name, value):
        return queryset.filter(separator_id__in=separators_of_family(value)) if value else queryset

    def filter_doi(self, queryset, name, value):
        return filter_doi(queryset, "separator__", value)


class FitProtocolFilterSet(LabelledFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    is_standard = django_filters.BooleanFilter()
    group = IdFilter(field_name="group_id")
    circuit = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = FitProtocol
        fields: list[str] = []


class JobFilterSet(LabelledFilterSet):
    state = django_filters.ChoiceFilter(choices=Job.State.choices, label="Job state")
    kind = django_filters.ChoiceFilter(choices=Job.Kind.choices, label="Job kind")
    target_type = django_filters.CharFilter()
    target_id = IdFilter(field_name="shown_target_id", label="Target id")  # a hidden target is not matched
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Job
        fields: list[str] = []
