"""Upload forms (pick files, then confirm the cell, ownership and conditions), the fit request and the
forms of DC polarisations and CCD tests."""
from __future__ import annotations

import math

from django import forms

from apps.accounts.models import Visibility
from apps.catalog.models import Cell

from .figures import PreviewError, PreviewRequest, check_names
from .models import Atmosphere, CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum
from .services import CONDITION_FIELDS


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or several files picked at once; cleans to a list of uploaded files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, (list, tuple)) else [data]
        items = [item for item in items if item]
        if not items:
            return super().clean(None, initial)
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class UploadFileForm(forms.Form):
    file = MultipleFileField(
        help_text="Instrument exports (Gamry .DTA, ZPlot .z, BioLogic .mpt/.mpr/.txt, CH Instruments, Parstat, "
        "VersaStudio .par, PowerSuite, CSV): one file, several picked at once, or a .zip of several."
    )

    def clean_file(self):
        files = self.cleaned_data["file"]
        if len(files) > 1:
            zips = [f.name for f in files if f.name.lower().endswith(".zip")]
            if zips:
                raise forms.ValidationError(f"Pick several instrument files or one zip archive, not both ({zips[0]}).")
            names = [f.name for f in files]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise forms.ValidationError(f"Two picked files share the name {repeated[0]}; rename one.")
        return files


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


class ParameterValuesField(forms.CharField):
    """Parameter values typed as ``R1=120, CPE1_n=0.9`` (comma, semicolon or newline between pairs)."""

    def to_python(self, value) -> dict[str, float]:
        text = super().to_python(value)
        values: dict[str, float] = {}
        for item in text.replace(";", ",").replace("\n", ",").split(","):
            if not item.strip():
                continue
            name, sep, number = item.partition("=")
            try:
                if not sep or not name.strip():
                    raise ValueError
                value = float(number)
            except ValueError:
                raise forms.ValidationError(f"“{item.strip()}” is not name=value, e.g. R1=120.") from None
            if not math.isfinite(value):
                raise forms.ValidationError(f"{name.strip()}: the value must be a finite number.")
            values[name.strip()] = value
        return values

    def prepare_value(self, value):
        if isinstance(value, dict):
            return ", ".join(f"{k}={v:g}" for k, v in value.items())
        return value


class FitRequestForm(forms.Form):
    """Fit one spectrum again (or preview the fit first): under a protocol the user may use, or a circuit of
    their own, with optional starting values, fixed values, a frequency window and a name."""

    protocol = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Standard protocol for this cell", help_text="Versioned protocols you may use."
    )
    circuit = forms.CharField(
        max_length=300, required=False, help_text="Or a circuit of your own, e.g. R0-p(R1,CPE1)-CPE2."
    )
    initial_values = ParameterValuesField(
        required=False, label="Starting values", help_text="Optional, e.g. R1=120, CPE1_n=0.9 (SI units: Ω, F·s^(n−1)).",
    )
    fixed = ParameterValuesField(required=False, label="Fixed values", help_text="Held constant, e.g. CPE2_n=1.")
    frequency_min_hz = forms.FloatField(required=False, min_value=0, label="Lowest frequency (Hz)")
    frequency_max_hz = forms.FloatField(required=False, min_value=0, label="Highest frequency (Hz)")
    name = forms.CharField(
        max_length=80, required=False, label="Name of the fit",
        help_text="Saved as your group's protocol of this name (circuit and window); blank: the circuit's name.",
    )

    def __init__(self, *args, protocols=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].queryset = protocols

    def clean(self):
        data = super().clean()
        if data.get("protocol") and data.get("circuit", "").strip():
            raise forms.ValidationError("Choose a protocol or type a circuit, not both.")
        low, high = data.get("frequency_min_hz"), data.get("frequency_max_hz")
        if low is not None and high is not None and low >= high:
            self.add_error("frequency_max_hz", "The highest frequency must be above the lowest.")
        names = [*(data.get("initial_values") or {}), *(data.get("fixed") or {})]
        circuit = self.circuit_text()
        if names and not circuit:
            self.add_error("circuit", "Starting or fixed values need a protocol or a circuit to belong to.")
        elif circuit:
            try:
                check_names(circuit, names)
            except PreviewError as error:
                self.add_error(error.field if error.field in self.fields else "circuit", str(error))
        return data

    def circuit_text(self) -> str:
        """The circuit this request fits: the chosen protocol's or the one typed (empty: the standard one)."""
        protocol = self.cleaned_data.get("protocol")
        return protocol.circuit if protocol else (self.cleaned_data.get("circuit") or "").strip()

    def window(self) -> tuple[float | None, float | None] | None:
        low, high = self.cleaned_data.get("frequency_min_hz"), self.cleaned_data.get("frequency_max_hz")
        return None if low is None and high is None else (low, high)

    def preview_request(self) -> PreviewRequest:
        return PreviewRequest(
            circuit=self.circuit_text(), initial_values=self.cleaned_data.get("initial_values") or {},
            fixed=self.cleaned_data.get("fixed") or {}, frequency_min_hz=self.cleaned_data.get("frequency_min_hz"),
            frequency_max_hz=self.cleaned_data.get("frequency_max_hz"),
        )


class CurrentTraceField(forms.CharField):
    """A current trace pasted as two columns, time (s) and current (A), one point a line (comma, tab or space)."""

    widget = forms.Textarea(attrs={"rows": 4, "placeholder": "0, 4.1e-7\n60, 2.2e-7\n3600, 1.9e-8"})

    def to_python(self, value) -> tuple[list[float], list[float]]:
        text = super().to_python(value)
        times, currents = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            cells = [c for c in line.replace(",", " ").replace(";", " ").replace("\t", " ").split() if c]
            if not cells:
                continue
            if len(cells) != 2:
                raise forms.ValidationError(f"Line {number}: expected two numbers (time s, current A), found {len(cells)}.")
            try:
                times.append(float(cells[0]))
                currents.append(float(cells[1]))
            except ValueError:
                raise forms.ValidationError(f"Line {number}: “{line.strip()}” is not two numbers.") from None
        return times, currents

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], list):
            return "\n".join(f"{t:g}, {i:g}" for t, i in zip(*value))
        return value


class CellMeasurementForm(forms.ModelForm):
    """Shared by the DC polarisation and CCD forms: the cell (one you may write to) and ownership."""

    visibility = forms.ChoiceField(choices=[("", "Same as the cell")] + list(Visibility.choices), required=False)

    def __init__(self, *args, cells=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cells is not None:
            self.fields["cell"].queryset = cells
        if self.instance.pk:
            self.fields["visibility"].initial = self.instance.visibility
            if "trace" in self.fields and self.instance.time_s:
                self.fields["trace"].initial = (list(self.instance.time_s), list(self.instance.current_a))

    def service_fields(self) -> dict:
        """The measured fields (blank ones as None, so an edit can clear them) and a visibility when one is chosen."""
        fields = {name: self.cleaned_data.get(name) for name in self.Meta.fields if name != "cell"}
        if self.cleaned_data.get("visibility"):
            fields["visibility"] = self.cleaned_data["visibility"]
        return fields


class DCPolarisationForm(CellMeasurementForm):
    trace = CurrentTraceField(
        required=False, label="Current trace (time s, current A)",
        help_text="Optional: one point a line, as exported by the potentiostat; drawn as current against time.",
    )

    class Meta:
        model = DCPolarisation
        fields = [
            "cell", "voltage_v", "steady_current_a", "initial_current_a", "duration_h", "temperature_c",
            "stack_pressure_mpa", "measured_at",
        ]  # fmt: skip
        labels = {
            "voltage_v": "Applied voltage ΔV (V)", "steady_current_a": "Steady-state current I_ss (A)",
            "initial_current_a": "Initial current I₀ (A)", "duration_h": "Duration (h)",
            "temperature_c": "Temperature (°C)", "stack_pressure_mpa": "Stack pressure (MPa)",
        }  # fmt: skip
        widgets = {"measured_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def service_fields(self) -> dict:
        times, currents = self.cleaned_data.get("trace") or ([], [])
        return {**super().service_fields(), "time_s": times, "current_a": currents}


class CCDTestForm(CellMeasurementForm):
    class Meta:
        model = CriticalCurrentDensityTest
        fields = [
            "cell", "initial_current_density_ma_per_cm2", "step_ma_per_cm2", "capacity_per_half_cycle_mah_per_cm2",
            "half_cycle_duration_h", "failure_rule", "failure_voltage_limit_v", "critical_current_density_ma_per_cm2",
            "temperature_c", "stack_pressure_mpa", "measured_at",
        ]  # fmt: skip
        labels = {
            "initial_current_density_ma_per_cm2": "Initial current density (mA/cm²)",
            "step_ma_per_cm2": "Step size (mA/cm²)",
            "capacity_per_half_cycle_mah_per_cm2": "Capacity per half-cycle (mAh/cm²)",
            "half_cycle_duration_h": "Half-cycle duration (h)",
            "failure_voltage_limit_v": "Failure voltage limit (V)",
            "critical_current_density_ma_per_cm2": "Failing current density, CCD (mA/cm²)",
            "temperature_c": "Temperature (°C)", "stack_pressure_mpa": "Stack pressure (MPa)",
        }  # fmt: skip
        help_texts = {"critical_current_density_ma_per_cm2": "Leave blank when the cell did not fail."}
        widgets = {"measured_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def clean(self):
        data = super().clean()
        if data.get("capacity_per_half_cycle_mah_per_cm2") is None and data.get("half_cycle_duration_h") is None:
            self.add_error("capacity_per_half_cycle_mah_per_cm2", "State the capacity per half-cycle or its duration.")
        if data.get("failure_rule") == CriticalCurrentDensityTest.FailureRule.VOLTAGE_LIMIT and data.get(
            "failure_voltage_limit_v"
        ) is None:
            self.add_error("failure_voltage_limit_v", "A voltage-limit failure rule needs its limit.")
        return data
