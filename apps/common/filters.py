"""Filter types and labels shared by the apps' FilterSets.

Every filter a page or the browsable API shows has a label in words with its unit: either its own
`label=` or the one `FILTER_LABELS` gives its name. `LabelledFilterSet` applies the table when the
class is built and refuses a filter that has neither, so django-filter never generates one
("Temperature c is greater than or equal to").
"""
import django_filters
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django_filters.filters import QuerySetRequestMixin

MAX_BIGINT = 2**63 - 1
ANY = "Any"

#: Filter name → label, for names that mean the same wherever they appear.
FILTER_LABELS: dict[str, str] = {
    # ownership and dates
    "group": "Research group (id)",
    "group_slug": "Research group (slug)",
    "visibility": "Visibility",
    "created_after": "Created from (date)",
    "created_before": "Created until (date)",
    "assembled_after": "Assembled from (date)",
    "assembled_before": "Assembled until (date)",
    "measured_after": "Measured from (date)",
    "measured_before": "Measured until (date)",
    "computed_after": "Computed from (date)",
    "computed_before": "Computed until (date)",
    "year_min": "Year from",
    "year_max": "Year to",
    "doi": "Source DOI",
    # records by id
    "material": "Material (id)",
    "separator": "Separator (id)",
    "cell": "Cell (id)",
    "spectrum": "Spectrum (id)",
    "raw_file": "Raw file (id)",
    "interface": "Interface (id)",
    "fit": "Fit (id)",
    "protocol": "Fit protocol (id)",
    "protocol_name": "Fit protocol name",
    "target_id": "Target (id)",
    "target_type": "Target type (separator, cell, spectrum …)",
    # materials, separators, cells
    "name": "Name contains",
    "family": "Material family",
    "processing_route": "Processing route",
    "configuration": "Cell configuration",
    "housing": "Cell housing",
    "electrode_contact": "Electrode contact",
    "is_metal_foil": "Metal foil",
    "has_interlayer": "Has a coating or interlayer",
    "technique": "Characterisation technique",
    "thickness_um_min": "Separator thickness from (µm)",
    "thickness_um_max": "Separator thickness to (µm)",
    "densification_pressure_mpa_min": "Densification pressure from (MPa)",
    "densification_pressure_mpa_max": "Densification pressure to (MPa)",
    "relative_density_min": "Relative density from (0–1)",
    "completeness_min": "Reporting completeness from (0–1)",
    "completeness_max": "Reporting completeness to (0–1)",
    # measurements
    "temperature_c_min": "Temperature from (°C)",
    "temperature_c_max": "Temperature to (°C)",
    "stack_pressure_mpa_min": "Stack pressure from (MPa)",
    "stack_pressure_mpa_max": "Stack pressure to (MPa)",
    "cycle_index_min": "Cycle from",
    "cycle_index_max": "Cycle to",
    "atmosphere": "Atmosphere",
    "mode": "Measurement mode",
    "kk_passed": "Kramers–Kronig test passed",
    "kk_verdict": "Kramers–Kronig verdict",
    "file_format": "File format (e.g. gamry)",
    "sha256": "File SHA-256",
    # results
    "is_standard": "Standard protocol",
    "circuit": "Circuit contains",
    "converged": "Fit converged",
    "conductivity_s_per_cm_min": "Conductivity from (S/cm)",
    "conductivity_s_per_cm_max": "Conductivity to (S/cm)",
    "activation_energy_ev_min": "Activation energy from (eV)",
    "activation_energy_ev_max": "Activation energy to (eV)",
    "sigma_25c_s_per_cm_min": "σ at 25 °C from (S/cm)",
    "extrapolated_25c": "Extrapolated to 25 °C",
    # benchmarks
    "metric": "Metric",
    "subject": "Record type",
    "value_min": "Value from (in the metric's unit)",
    "value_max": "Value to (in the metric's unit)",
    "blocking": "Has a blocking flag",
    "dataset": "Literature data set",
}


class AnyYesNoSelect(forms.NullBooleanSelect):
    """Yes / No / Any (not Django's "Unknown", which reads as a value of the record)."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", ANY), ("true", "Yes"), ("false", "No")]


class LabelledFilterSet(django_filters.FilterSet):
    """A FilterSet whose every filter has a label in words (its own or `FILTER_LABELS`'), choices offering "Any"."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        for name, filter_ in filters.items():
            if filter_._label is None:
                if name not in FILTER_LABELS:
                    raise ImproperlyConfigured(
                        f"{cls.__name__}.{name} has no label: give it label=… or add {name!r} to FILTER_LABELS"
                    )
                filter_.label = FILTER_LABELS[name]
            if isinstance(filter_, django_filters.ChoiceFilter):
                filter_.extra.setdefault("empty_label", ANY)
            elif isinstance(filter_, django_filters.BooleanFilter):
                filter_.extra.setdefault("widget", AnyYesNoSelect)
        return filters

    def get_form_class(self):
        """django-filter's form class, built once per FilterSet class rather than on every request (a form field
        and a class per filter, a third of a filtered list's filtering time). Each form still copies its fields;
        only filters whose form field depends on the request (a queryset chosen per request) would need more."""
        form_class = type(self).__dict__.get("_form_class_built_once")  # the class's own, never a parent's
        if form_class is None:
            if any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
                return super().get_form_class()
            form_class = super().get_form_class()
            type(self)._form_class_built_once = form_class
        return form_class


class IntegerFilter(django_filters.NumberFilter):
    """A whole-number filter (ids, counts, years): a value the database cannot hold is a 400, never an overflow."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_BIGINT)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(*args, **kwargs)


class IdFilter(IntegerFilter):
    """A primary key."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(*args, **kwargs)
