"""Side-by-side comparison of separators or spectra: a table of their conditions (differences marked)
and overlaid figures, for the compare page."""
from __future__ import annotations

from django.http import Http404
from django.urls import reverse

from apps.analysis.models import ConductivityKind
from apps.analysis.selectors import visible_arrhenius_fits
from apps.measurements.plots import bode_figure, figure_json, nyquist_figure
from apps.measurements.selectors import visible_spectra

from . import plots
from .figures import arrhenius_series_for, nearest_25c_spectrum
from .models import Separator
from .selectors import visible_separators


def family_label(separator: Separator) -> str:
    material = separator.primary_material
    return material.get_family_display() if material else "—"


def _differing(rows: list[tuple[str, list]]) -> list[dict]:
    return [{"label": label, "values": values, "differs": len({str(v) for v in values}) > 1} for label, values in rows]


def _fmt(value, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}{' ' + unit if unit else ''}"
    return f"{value}{' ' + unit if unit else ''}"


def _total_fits(user, records: list[Separator]) -> dict[int, object]:
    """The σT Arrhenius fit of total conductivity per separator id (standard protocols first)."""
    arrhenius: dict[int, dict] = {s.pk: {} for s in records}
    for fit in visible_arrhenius_fits(user=user).filter(separator__in=records, form="sigma_t").order_by("-protocol__is_standard"):
        arrhenius[fit.separator_id].setdefault(fit.kind, fit)
    return {pk: fits.get(ConductivityKind.TOTAL) for pk, fits in arrhenius.items()}


def _ea_text(fit) -> str:
    if fit is None or fit.activation_energy_ev is None:
        return "—"
    err = f" ± {fit.activation_energy_stderr_ev:.3f}" if fit.activation_energy_stderr_ev is not None else ""
    return f"{fit.activation_energy_ev:.3f}{err} eV"


def _separator_rows(records: list[Separator], total_fits: dict[int, object]) -> list[dict]:
    def sigma25(s):
        fit = total_fits[s.pk]
        return _fmt(fit.sigma_25c_s_per_cm, "S/cm") if fit and fit.sigma_25c_s_per_cm else "—"

    return _differing(
        [
            ("Group", [s.group.name for s in records]),
            ("Family", [family_label(s) for s in records]),
            ("Composition", ["; ".join(str(c) for c in s.components.all()) or "—" for s in records]),
            ("Form", [s.get_form_display() for s in records]),
            ("Processing route", [s.get_processing_route_display() or "—" for s in records]),
            ("Densification pressure", [_fmt(s.densification_pressure_mpa, "MPa") for s in records]),
            ("Densification temperature", [_fmt(s.densification_temperature_c, "°C") for s in records]),
            ("Sintering temperature", [_fmt(s.sintering_temperature_c, "°C") for s in records]),
            ("Atmosphere", [s.processing_atmosphere or "—" for s in records]),
            ("Thickness", [_fmt(s.thickness_um, "µm") for s in records]),
            ("Thickness method", [s.get_thickness_method_display() or "—" for s in records]),
            ("Area", [_fmt(s.area_cm2, "cm²") for s in records]),
            ("Relative density", [_fmt(s.relative_density) for s in records]),
            ("σ total at 25 °C", [sigma25(s) for s in records]),
            ("Ea (total)", [_ea_text(total_fits[s.pk]) for s in records]),
            ("Source", [str(s.source) if s.source else "—" for s in records]),
        ]
    )


def compare_separators(user, ids: list[int]) -> dict:
    found = {s.pk: s for s in visible_separators(user=user).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Http404("No such separator.")
    records = [found[i] for i in ids]
    rows = _separator_rows(records, _total_fits(user, records))
    series = []
    for s in records:
        series.extend(arrhenius_series_for(s, user))
    nyquist = []
    for s in records:
        spectrum = nearest_25c_spectrum(s, user)
        if spectrum is not None:
            nyquist.append((f"{s.name}: {spectrum.label or spectrum.pk}", spectrum.frequencies_hz, spectrum.impedance_ohm))
    figures = {
        "nyquist": figure_json(nyquist_figure(nyquist, title="Nyquist (per separator, the spectrum nearest 25 °C)")),
        "arrhenius": figure_json(plots.arrhenius_figure(series, title="Arrhenius")),
    }
    links = [(s.name, reverse("catalog:separator-detail", args=[s.pk])) for s in records]
    return {"rows": rows, "figures": figures, "links": links}


def compare_spectra(user, ids: list[int]) -> dict:
    found = {s.pk: s for s in visible_spectra(user=user, with_arrays=True).filter(pk__in=ids)}
    if any(i not in found for i in ids):
        raise Http404("No such spectrum.")
    records = [found[i] for i in ids]
    rows = _differing(
        [
            ("Cell", [s.cell.name for s in records]),
            ("Separator", [s.cell.separator.name if s.cell.separator else "—" for s in records]),
            ("Configuration", [s.cell.get_configuration_display() for s in records]),
            ("Temperature", [_fmt(s.temperature_c, "°C") for s in records]),
            ("Stack pressure", [_fmt(s.stack_pressure_mpa, "MPa") for s in records]),
            ("Atmosphere", [s.get_atmosphere_display() or "—" for s in records]),
            ("Cycle", [_fmt(s.cycle_index) for s in records]),
            ("Elapsed time", [_fmt(s.elapsed_time_h, "h") for s in records]),
            ("State of charge", [_fmt(s.state_of_charge) for s in records]),
            ("DC bias", [_fmt(s.dc_bias_v, "V") for s in records]),
            ("AC amplitude", [_fmt(s.ac_amplitude_mv, "mV") for s in records]),
            ("Frequency range", [f"{s.frequency_min_hz:.3g} – {s.frequency_max_hz:.3g} Hz" for s in records]),
            ("Points", [s.n_points for s in records]),
            ("Instrument", [s.instrument or "—" for s in records]),
            ("Group", [s.group.name for s in records]),
        ]
    )
    nyquist = [(s.label or f"Spectrum {s.pk}", s.frequencies_hz, s.impedance_ohm) for s in records]
    separators = []
    for s in records:
        if s.cell.separator_id and s.cell.separator_id not in [x.pk for x in separators]:
            sep = visible_separators(user=user).filter(pk=s.cell.separator_id).first()
            if sep is not None:
                separators.append(sep)
    series = [item for sep in separators for item in arrhenius_series_for(sep, user)]
    figures = {
        "nyquist": figure_json(nyquist_figure(nyquist, title="Nyquist overlay")),
        # Blocking-electrode tails dominate a Nyquist overlay; |Z| and phase on log axes show every decade.
        "bode": figure_json(bode_figure(nyquist)),
        "arrhenius": figure_json(plots.arrhenius_figure(series, title="Arrhenius of their separators")),
    }
    links = [(s.label or f"Spectrum {s.pk}", reverse("measurements:spectrum-detail", args=[s.pk])) for s in records]
    return {"rows": rows, "figures": figures, "links": links}
