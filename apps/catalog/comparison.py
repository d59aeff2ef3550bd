"""Side-by-side comparison of separators, cells, interfaces or spectra: a table of their conditions
(differences marked) and overlaid figures, for the compare page."""
from __future__ import annotations

import dataclasses

from django.http import Http404
from django.urls import reverse

from apps.analysis.models import ConductivityKind
from apps.analysis.selectors import visible_arrhenius_fits
from apps.common.formatting import format_number, format_quantity, format_unit_value
from apps.measurements.figures import dense_fit_curve, parameter_unit
from apps.measurements.plots import bode_figure, figure_json, nyquist_figure
from apps.measurements.selectors import visible_ccd_tests, visible_dc_polarisations, visible_spectra

from . import plots
from .figures import arrhenius_series_for, chosen_fits, interfacial_points, nearest_25c_spectrum
from .models import Cell, Interface, InterfaceEvidence, Separator
from .selectors import visible_cells, visible_interfaces, visible_separators


def family_label(separator: Separator) -> str:
    material = separator.primary_material
    return material.get_family_display() if material else "—"


def _differing(rows: list[tuple[str, list]]) -> list[dict]:
    return [{"label": label, "values": values, "differs": len({str(v) for v in values}) > 1} for label, values in rows]


def _fmt(value, unit: str = "") -> str:
    """A value by the site's number rule (`apps.common.formatting`): in its quantity's display unit when the
    unit names one, three significant digits and the unit as given otherwise; counts and text as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value}{' ' + unit if unit else ''}"
    if isinstance(value, int) and not unit:
        return str(value)
    return format_unit_value(value, None, unit) if unit else format_number(value)


def _total_fits(user, records: list[Separator]) -> dict[int, object]:
    """The σT Arrhenius fit of total conductivity per separator id (standard protocols first)."""
    arrhenius: dict[int, dict] = {s.pk: {} for s in records}
    for fit in visible_arrhenius_fits(user=user).filter(separator__in=records, form="sigma_t").order_by("-protocol__is_standard"):
        arrhenius[fit.separator_id].setdefault(fit.kind, fit)
    return {pk: fits.get(ConductivityKind.TOTAL) for pk, fits in arrhenius.items()}


def _ea_text(fit) -> str:
    if fit is None:
        return "—"
    return format_quantity(fit.activation_energy_ev, fit.activation_energy_stderr_ev, "activation_energy")


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


def _with_error(value, stderr, unit: str = "") -> str:
    return format_unit_value(value, stderr, unit)


def _fit_rows(records, fits: dict) -> list[dict]:
    """The fit of each spectrum (standard protocol first): protocol, circuit, χ², σ by kind, then every
    parameter with its standard error (rows in the circuits' order, “—” where a circuit lacks one)."""
    chosen = [fits.get(s.pk) for s in records]
    conductivities: dict[int, dict[str, object]] = {}
    for fit in chosen:
        if fit is not None:
            conductivities[fit.pk] = {c.kind: c for c in fit.conductivities.all()}
    names: list[str] = []
    for fit in chosen:
        for name, _ in (fit.parameter_items() if fit else []):
            if name not in names:
                names.append(name)
    kinds = [k for k, _ in ConductivityKind.choices if any(k in conductivities.get(f.pk, {}) for f in chosen if f)]
    kind_titles = dict(ConductivityKind.choices)

    def sigma(fit, kind):
        c = conductivities.get(fit.pk, {}).get(kind) if fit else None
        return _with_error(c.conductivity_s_per_cm, c.conductivity_stderr_s_per_cm, "S/cm") if c else "—"

    rows = [
        ("Fit", [str(f.protocol) if f else "not fitted" for f in chosen]),
        ("Circuit", [f.protocol.circuit if f else "—" for f in chosen]),
        ("χ² (reduced)", [f"{format_number(f.chi_square)} ({format_number(f.reduced_chi_square)})"
                          if f and f.chi_square is not None else "—" for f in chosen]),
        *[(f"σ {kind_titles[k].lower()}", [sigma(f, k) for f in chosen]) for k in kinds],
        *[(name, [_with_error(f.parameters.get(name), (f.stderr or {}).get(name), parameter_unit(name))
                  if f and name in f.parameters else "—" for f in chosen]) for name in names],
    ]
    return _differing(rows)


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
    fits = chosen_fits([s.pk for s in records], user)
    rows += _fit_rows(records, fits)
    nyquist = [(s.label or f"Spectrum {s.pk}", s.frequencies_hz, s.impedance_ohm) for s in records]
    separators = []
    for s in records:
        if s.cell.separator_id and s.cell.separator_id not in [x.pk for x in separators]:
            sep = visible_separators(user=user).filter(pk=s.cell.separator_id).first()
            if sep is not None:
                separators.append(sep)
    series = [item for sep in separators for item in arrhenius_series_for(sep, user)]
    curves = [dense_fit_curve(fits.get(s.pk), s.frequencies_hz, f"fit: {label}") for s, (label, _, _) in zip(records, nyquist)]
    figures = {
        "nyquist": figure_json(nyquist_figure(nyquist, fits=curves, title="Nyquist overlay (fits as lines)")),
        # Blocking-electrode tails dominate a Nyquist overlay; |Z| and phase on log axes show every decade.
        "bode": figure_json(bode_figure(nyquist, fits=curves)),
        "arrhenius": figure_json(plots.arrhenius_figure(series, title="Arrhenius of their separators")),
    }
    links = [(s.label or f"Spectrum {s.pk}", reverse("measurements:spectrum-detail", args=[s.pk])) for s in records]
    return {"rows": rows, "figures": figures, "links": links}


def _visible_in_order(queryset, ids: list[int], what: str) -> list:
    found = {r.pk: r for r in queryset.filter(pk__in=ids)}
    if any(i not in found for i in ids):
        raise Http404(f"No such {what}.")
    return [found[i] for i in ids]


def _first_step(cell: Cell, phase: str):
    return next((s for s in cell.pressure_steps.all() if s.phase == phase), None)


def compare_cells(user, ids: list[int]) -> dict:
    """Cells side by side: build and conditions, then their pressure histories and interfacial ASR overlaid."""
    records = _visible_in_order(
        visible_cells(user=user).prefetch_related("pressure_steps", "layers__separator", "layers__electrode",
                                                  "layers__material", "interfaces"), ids, "cell")
    visible_separator_ids = set(visible_separators(user=user).filter(
        pk__in=[c.separator_id for c in records if c.separator_id]).values_list("pk", flat=True))
    visible_interface_ids = set(
        visible_interfaces(user=user).filter(cells__in=[c.pk for c in records]).values_list("pk", flat=True))
    ccd = {t.cell_id: t for t in visible_ccd_tests(user=user).filter(cell__in=records).exclude(
        critical_current_density_ma_per_cm2=None).order_by("measured_at", "pk")}
    dc_cells = set(visible_dc_polarisations(user=user).filter(cell__in=records).values_list("cell_id", flat=True))

    def densification(cell):
        step = _first_step(cell, "densification")
        return _fmt(step.pressure_mpa, "MPa") if step else "—"

    def layer_text(cell):
        return " | ".join(
            (layer.separator.name if layer.separator_id and layer.separator_id in visible_separator_ids
             else str(layer.electrode) if layer.electrode_id else layer.material.name if layer.material_id
             else layer.get_kind_display())
            for layer in cell.layers.all()
        ) or "—"

    rows = _differing(
        [
            ("Group", [c.group.name for c in records]),
            ("Configuration", [c.get_configuration_display() for c in records]),
            ("Housing", [c.get_housing_display() or "—" for c in records]),
            ("Electrode contact", [c.get_electrode_contact_display() or "—" for c in records]),
            ("Separator", [c.separator.name if c.separator_id in visible_separator_ids else "—" for c in records]),
            ("Separator thickness", [_fmt(c.separator.thickness_um, "µm") if c.separator_id in visible_separator_ids
                                     else "—" for c in records]),
            ("Layer stack", [layer_text(c) for c in records]),
            ("Interfaces", [", ".join(i.name for i in c.interfaces.all() if i.pk in visible_interface_ids) or "—"
                            for c in records]),
            ("Active area", [_fmt(c.active_area_cm2, "cm²") for c in records]),
            ("Lead resistance", [_fmt(c.lead_resistance_ohm, "Ω") for c in records]),
            ("Densification pressure", [densification(c) for c in records]),
            ("Measurement pressure", [_fmt(c.measurement_pressure_mpa, "MPa") for c in records]),
            ("Pressure steps", [len(c.pressure_steps.all()) for c in records]),
            ("CCD", [_fmt(ccd[c.pk].critical_current_density_ma_per_cm2, "mA/cm²") if c.pk in ccd else "—"
                     for c in records]),
            ("DC polarisation", ["recorded" if c.pk in dc_cells else "—" for c in records]),
            ("Assembled", [str(c.assembled_on) if c.assembled_on else "—" for c in records]),
            ("Source", [str(c.source) if c.source else "—" for c in records]),
        ]
    )
    points = interfacial_points(visible_spectra(user=user).filter(cell__in=records), user)
    x = "elapsed_time_h" if any(p.elapsed_time_h is not None for p in points) else "cycle_index"
    figures = {
        "pressure": figure_json(plots.pressure_histories_figure([(c.name, c.pressure_steps.all()) for c in records])),
        "interfacial": figure_json(plots.interfacial_figure(points, x=x, title="Interfacial ASR growth")),
    }
    links = [(c.name, reverse("catalog:cell-detail", args=[c.pk])) for c in records]
    return {"rows": rows, "figures": figures, "links": links}


def compare_interfaces(user, ids: list[int]) -> dict:
    """Interfaces side by side: the two layers, coating and preparation, the characterisation evidence per
    technique, and their interfacial ASR against stack pressure and over time overlaid (one trace each)."""
    records = _visible_in_order(
        visible_interfaces(user=user).select_related("material_a", "material_b", "interlayer_material", "source")
        .prefetch_related("evidence"), ids, "interface")

    def coating(i: Interface) -> str:
        if not i.interlayer_material_id:
            return "none"
        parts = [i.interlayer_material.name]
        if i.interlayer_thickness_nm:
            parts.append(_fmt(i.interlayer_thickness_nm, "nm"))
        if i.coating_method:
            parts.append(f"by {i.coating_method}")
        return ", ".join(parts)

    def heat(i: Interface) -> str:
        if i.heat_treatment_temperature_c is None:
            return "—"
        text = _fmt(i.heat_treatment_temperature_c, "°C")
        return text + (f" for {_fmt(i.heat_treatment_time_min, 'min')}" if i.heat_treatment_time_min is not None else "")

    def evidence_text(i: Interface, technique: str) -> str:
        crossed = set(i.cross_validated_assignments)
        items = []
        for e in i.evidence.all():
            if e.technique != technique:
                continue
            text = e.assigned_species + (f" ({e.termination})" if e.termination else "")
            values = [f"measured {_fmt(e.measured_value, e.value_unit)}" if e.measured_value is not None else "",
                      f"computed {_fmt(e.computed_value, e.value_unit)}" if e.computed_value is not None else ""]
            values = [v for v in values if v]
            if values:
                text += ": " + ", ".join(values)
            if e.assigned_species.strip().lower() in crossed:
                text += " ✓ cross-validated"
            items.append(text)
        return "; ".join(items) or "—"

    technique_titles = dict(InterfaceEvidence.Technique.choices)
    techniques = [t for t in technique_titles if any(e.technique == t for i in records for e in i.evidence.all())]
    rows = _differing(
        [
            ("Group", [i.group.name for i in records]),
            ("Side A", [i.material_a.name for i in records]),
            ("Side B", [i.material_b.name for i in records]),
            ("Coating / interlayer", [coating(i) for i in records]),
            ("Polishing", [i.polishing or "—" for i in records]),
            ("Heat treatment", [heat(i) for i in records]),
            ("Preparation atmosphere", [i.preparation_atmosphere or "—" for i in records]),
            *[(f"Evidence: {technique_titles[t]}", [evidence_text(i, t) for i in records]) for t in techniques],
            ("Cross-validated", [", ".join(i.cross_validated_assignments) or "—" for i in records]),
            ("Source", [str(i.source) if i.source else "—" for i in records]),
        ]
    )
    points = []
    cells = visible_cells(user=user)
    for interface in records:
        spectra = visible_spectra(user=user).filter(cell__in=cells.filter(interfaces=interface).values("pk"))
        points += [dataclasses.replace(p, cell_label=interface.name) for p in interfacial_points(spectra, user)]
    figures = {
        "pressure": figure_json(plots.interfacial_figure(points, x="stack_pressure_mpa",
                                                         title="Interfacial ASR against stack pressure")),
        "interfacial": figure_json(plots.interfacial_figure(points, x="elapsed_time_h", title="Interfacial ASR over time")),
    }
    links = [(i.name, reverse("catalog:interface-detail", args=[i.pk])) for i in records]
    return {"rows": rows, "figures": figures, "links": links}
