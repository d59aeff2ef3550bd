"""Web forms of catalog records: they translate POST data into the dicts the catalog services take."""
from __future__ import annotations

from django import forms

from apps.accounts.models import ResearchGroup, Visibility
from apps.accounts.selectors import groups_of

from .models import (
    Cell,
    CellLayer,
    Electrode,
    Interface,
    InterfaceEvidence,
    Material,
    MaterialFamily,
    PressureStep,
    Separator,
    SeparatorComponent,
)
from .services import DOI_PATTERN, get_or_create_source, normalise_doi

OWNERSHIP_FIELDS = ("group", "visibility", "embargo_until")


class OwnershipMixin(forms.Form):
    """Group (one of the user's), visibility and embargo date of a new or edited record."""

    group = forms.ModelChoiceField(queryset=ResearchGroup.objects.none(), help_text="The research group that owns it.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.GROUP)
    embargo_until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Becomes public on this date."
    )

    def setup_ownership(self, user, *, editing: bool) -> None:
        groups = groups_of(user) if not user.is_superuser else ResearchGroup.objects.all()
        self.fields["group"].queryset = groups
        mine = list(groups_of(user)[:2])
        if len(mine) == 1:
            self.fields["group"].initial = mine[0].pk
        if editing:
            # Moving a record between groups is an ownership change, not an edit.
            self.fields.pop("group")

    def ownership(self) -> dict:
        return {k: self.cleaned_data[k] for k in OWNERSHIP_FIELDS if k in self.cleaned_data}


class SourceDoiMixin(forms.Form):
    """The paper a record comes from, by DOI: an existing source is reused, a new DOI creates one on save.

    Blank leaves the record without a source. The DOI counts toward reporting completeness.
    """

    source_doi = forms.CharField(
        max_length=200, required=False, label="Source DOI",
        help_text="The paper this record comes from, e.g. 10.1021/acsenergylett.0c01234 (doi.org links accepted).",
    )

    def setup_source(self, record) -> None:
        if record is not None and record.source_id and record.source.doi:
            self.fields["source_doi"].initial = record.source.doi

    def clean_source_doi(self) -> str:
        doi = normalise_doi(self.cleaned_data.get("source_doi", ""))
        if doi and not DOI_PATTERN.match(doi):
            raise forms.ValidationError(
                f"“{self.cleaned_data['source_doi']}” is not a DOI: it starts with 10., a registrant number, "
                "a slash and a suffix (10.NNNN/…)."
            )
        return doi

    def source_values(self) -> dict:
        """The service argument for the source: found or created now (call inside the record's transaction)."""
        doi = self.cleaned_data.get("source_doi")
        return {"source": get_or_create_source(doi=doi) if doi else None}


def _date_widgets(*names: str) -> dict:
    return {name: forms.DateInput(attrs={"type": "date"}) for name in names}


class SeparatorForm(OwnershipMixin, SourceDoiMixin, forms.ModelForm):
    class Meta:
        model = Separator
        fields = [
            "name",
            "description",
            "form",
            "processing_route",
            "densification_pressure_mpa",
            "densification_temperature_c",
            "densification_hold_time_min",
            "sintering_temperature_c",
            "sintering_time_h",
            "processing_atmosphere",
            "processing_notes",
            "thickness_um",
            "thickness_stderr_um",
            "thickness_method",
            "thickness_measured_when",
            "area_cm2",
            "relative_density",
            "inorganic_volume_fraction",
            "infiltration_method",
        ]
        labels = {
            "densification_pressure_mpa": "Densification pressure (MPa)",
            "densification_temperature_c": "Densification temperature (°C)",
            "densification_hold_time_min": "Densification hold time (min)",
            "sintering_temperature_c": "Sintering temperature (°C)",
            "sintering_time_h": "Sintering time (h)",
            "thickness_um": "Thickness (µm)",
            "thickness_stderr_um": "Thickness uncertainty (µm)",
            "area_cm2": "Area (cm²)",
            "relative_density": "Relative density (0–1)",
            "inorganic_volume_fraction": "Inorganic volume fraction (0–1)",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "processing_notes": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        data = super().clean()
        for name in ("thickness_um", "area_cm2"):
            value = data.get(name)
            if value is not None and value <= 0:
                self.add_error(name, "Must be greater than zero.")
        return data


class ComponentForm(forms.Form):
    material = forms.ModelChoiceField(queryset=Material.objects.all())
    role = forms.ChoiceField(choices=SeparatorComponent.Role.choices)
    fraction = forms.FloatField(required=False, min_value=0, max_value=1, help_text="0–1")
    fraction_basis = forms.ChoiceField(choices=SeparatorComponent.Basis.choices, initial=SeparatorComponent.Basis.WEIGHT)


class CellForm(OwnershipMixin, SourceDoiMixin, forms.ModelForm):
    publish_references = forms.BooleanField(
        required=False,
        label="Publish the separator, electrodes and interfaces with this cell",
        help_text="A cell cannot be more visible than what it references; tick to raise them with it.",
    )

    class Meta:
        model = Cell
        fields = [
            "name",
            "configuration",
            "housing",
            "electrode_contact",
            "separator",
            "interfaces",
            "active_area_cm2",
            "lead_resistance_ohm",
            "assembled_on",
            "notes",
        ]
        labels = {"active_area_cm2": "Active area (cm²)", "lead_resistance_ohm": "Lead resistance (Ω)"}
        widgets = {**_date_widgets("assembled_on"), "notes": forms.Textarea(attrs={"rows": 2})}

    def limit_choices(self, *, separators, interfaces) -> None:
        self.fields["separator"].queryset = separators
        self.fields["interfaces"].queryset = interfaces
        self.fields["interfaces"].required = False

    def clean_active_area_cm2(self):
        value = self.cleaned_data.get("active_area_cm2")
        if value is not None and value <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return value


class LayerForm(forms.Form):
    kind = forms.ChoiceField(choices=CellLayer.Kind.choices)
    separator = forms.ModelChoiceField(queryset=Separator.objects.none(), required=False)
    electrode = forms.ModelChoiceField(queryset=Electrode.objects.none(), required=False)
    material = forms.ModelChoiceField(queryset=Material.objects.all(), required=False)
    thickness_um = forms.FloatField(required=False, label="Thickness (µm)")
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, separators=None, electrodes=None, **kwargs):
        # Passed through the formset's form_kwargs, so rows added in the browser (empty_form) offer them too.
        super().__init__(*args, **kwargs)
        if separators is not None:
            self.fields["separator"].queryset = separators
        if electrodes is not None:
            self.fields["electrode"].queryset = electrodes

    def clean_thickness_um(self):
        value = self.cleaned_data.get("thickness_um")
        if value is not None and value <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return value

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == CellLayer.Kind.SEPARATOR and not data.get("separator"):
            self.add_error("separator", "A separator layer needs the separator it is.")
        if kind == CellLayer.Kind.ELECTRODE and not data.get("electrode"):
            self.add_error("electrode", "An electrode layer needs the electrode it is.")
        return data


class PressureStepForm(forms.Form):
    phase = forms.ChoiceField(choices=PressureStep.Phase.choices)
    pressure_mpa = forms.FloatField(min_value=0, label="Pressure (MPa)")
    duration_min = forms.FloatField(required=False, min_value=0, label="Duration (min)")
    temperature_c = forms.FloatField(required=False, min_value=-273.15, label="Temperature (°C)")
    notes = forms.CharField(max_length=200, required=False)


class InterfaceForm(OwnershipMixin, forms.ModelForm):
    class Meta:
        model = Interface
        fields = [
            "name",
            "material_a",
            "material_b",
            "interlayer_material",
            "interlayer_thickness_nm",
            "coating_method",
            "polishing",
            "heat_treatment_temperature_c",
            "heat_treatment_time_min",
            "preparation_atmosphere",
            "preparation_notes",
        ]
        labels = {
            "interlayer_thickness_nm": "Interlayer thickness (nm)",
            "heat_treatment_temperature_c": "Heat-treatment temperature (°C)",
            "heat_treatment_time_min": "Heat-treatment time (min)",
        }
        widgets = {"preparation_notes": forms.Textarea(attrs={"rows": 2})}

    def clean_interlayer_thickness_nm(self):
        value = self.cleaned_data.get("interlayer_thickness_nm")
        if value is not None and value <= 0:
            raise forms.ValidationError("Must be greater than zero.")
        return value


class EvidenceForm(forms.Form):
    technique = forms.ChoiceField(choices=InterfaceEvidence.Technique.choices)
    assigned_species = forms.CharField(max_length=200, help_text="Species or termination assigned, e.g. Li2CO3.")
    termination = forms.CharField(max_length=120, required=False)
    measured_value = forms.FloatField(required=False)
    computed_value = forms.FloatField(required=False)
    value_unit = forms.CharField(max_length=30, required=False, help_text="e.g. ppm, eV")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}))


def rows_formset(form_class, *, extra: int = 1):
    return forms.formset_factory(form_class, extra=extra, can_delete=True)


ComponentFormSet = rows_formset(ComponentForm)
LayerFormSet = rows_formset(LayerForm)
PressureStepFormSet = rows_formset(PressureStepForm)
EvidenceFormSet = rows_formset(EvidenceForm)


def formset_rows(formset) -> list[dict]:
    """Cleaned rows of a valid formset in order, without the blank and deleted ones."""
    rows = []
    for form in formset.forms:
        if not form.has_changed() or form.cleaned_data.get("DELETE"):
            continue
        rows.append({k: v for k, v in form.cleaned_data.items() if k != "DELETE"})
    return rows


class CompareForm(forms.Form):
    KIND_CHOICES = [("separator", "Separators"), ("cell", "Cells"), ("interface", "Interfaces"), ("spectrum", "Spectra")]
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="separator")
    ids = forms.CharField(help_text="2–6 record numbers, e.g. 12, 15, 31.")

    def clean_ids(self):
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else [self.cleaned_data["ids"]]
        values: list[int] = []
        for chunk in raw:
            for part in str(chunk).replace(",", " ").split():
                if not part.isdigit():
                    raise forms.ValidationError(f"“{part}” is not a record number.")
                if int(part) not in values:
                    values.append(int(part))
        if not 2 <= len(values) <= 6:
            raise forms.ValidationError(f"Pick between 2 and 6 records to compare; you picked {len(values)}.")
        return values


class SearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, label="Search")


class MaterialForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. Li6PS5Cl, LLZTO, PEO")
    formula = forms.CharField(max_length=200, required=False)
    family = forms.ChoiceField(choices=MaterialFamily.choices, initial=MaterialFamily.OTHER)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ElectrodeForm(OwnershipMixin, forms.ModelForm):
    class Meta:
        model = Electrode
        fields = [
            "name",
            "kind",
            "active_material",
            "is_metal_foil",
            "electrolyte_fraction",
            "carbon_fraction",
            "areal_loading_mg_per_cm2",
            "thickness_um",
        ]
        labels = {
            "electrolyte_fraction": "Electrolyte fraction (0–1)",
            "carbon_fraction": "Carbon fraction (0–1)",
            "areal_loading_mg_per_cm2": "Areal loading (mg/cm²)",
            "thickness_um": "Thickness (µm)",
        }
