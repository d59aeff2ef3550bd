"""Upload forms: pick a file, then confirm the cell, ownership and conditions."""
from __future__ import annotations

from django import forms

from apps.accounts.models import Visibility
from apps.catalog.models import Cell

from .models import Atmosphere, ImpedanceSpectrum
from .services import CONDITION_FIELDS


class UploadFileForm(forms.Form):
    file = forms.FileField(
        help_text="An instrument export (Gamry .DTA, ZPlot .z, BioLogic .mpt/.mpr/.txt, CH Instruments, Parstat, "
        "VersaStudio .par, PowerSuite, CSV) or a .zip of several."
    )


class ConfirmUploadForm(forms.Form):
    """The choices that go with an upload; blank conditions keep what the file states."""

    token = forms.CharField(widget=forms.HiddenInput)
    cell = forms.ModelChoiceField(queryset=Cell.objects.none(), help_text="The cell these spectra were measured on.")
    visibility = forms.ChoiceField(
        choices=[("", "Same as the cell")] + list(Visibility.choices), required=False
    )
    embargo_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    label = forms.CharField(max_length=200, required=False)
    temperature_c = forms.FloatField(required=False, min_value=-273.15, label="Temperature (°C)")
    equilibration_time_min = forms.FloatField(required=False, min_value=0, label="Equilibration time (min)")
    atmosphere = forms.ChoiceField(choices=[("", "—")] + list(Atmosphere.choices), required=False)
    stack_pressure_mpa = forms.FloatField(required=False, min_value=0, label="Stack pressure (MPa)")
    cycle_index = forms.IntegerField(required=False, min_value=0, label="Cycle")
    state_of_charge = forms.FloatField(required=False, min_value=0, max_value=1, label="State of charge (0–1)")
    elapsed_time_h = forms.FloatField(required=False, min_value=0, label="Time since assembly (h)")
    dc_bias_v = forms.FloatField(required=False, label="DC bias (V)")
    ac_amplitude_mv = forms.FloatField(required=False, min_value=0, label="AC amplitude (mV)")
    mode = forms.ChoiceField(choices=[("", "—")] + list(ImpedanceSpectrum.Mode.choices), required=False)
    attach = forms.BooleanField(
        required=False, label="Attach to this cell too",
        help_text="If the group holds this exact file already, store it again as new spectra on the chosen cell with "
        "these conditions (sharing the stored file). Without it, a file stored before is only reported.",
    )

    def __init__(self, *args, cells=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cells is not None:
            self.fields["cell"].queryset = cells

    def conditions(self) -> dict:
        """The conditions the user stated, under the names the ingest service takes."""
        return {
            k: self.cleaned_data[k]
            for k in CONDITION_FIELDS
            if k in self.fields and self.cleaned_data.get(k) not in (None, "")
        }


class FitRequestForm(forms.Form):
    """Fit one spectrum again: under a protocol the user may use, or under a circuit of their own."""

    protocol = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Standard protocol for this cell", help_text="Versioned protocols you may use."
    )
    circuit = forms.CharField(
        max_length=300, required=False, help_text="Or a circuit of your own, e.g. R0-p(R1,CPE1)-CPE2."
    )

    def __init__(self, *args, protocols=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].queryset = protocols

    def clean(self):
        data = super().clean()
        if data.get("protocol") and data.get("circuit", "").strip():
            raise forms.ValidationError("Choose a protocol or type a circuit, not both.")
        return data
