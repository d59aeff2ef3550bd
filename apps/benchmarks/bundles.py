"""The reproduce bundle of a benchmark entry: a zip with what it takes to recompute the number
(entry, protocols, spectra, raw files, fits), restricted to what the requesting user may see."""
from __future__ import annotations

import io
import json
import logging
import re
import zipfile

from django.utils import timezone

from apps.analysis.eis import ENGINE_VERSION
from apps.analysis.models import ArrheniusFit, Conductivity, FitProtocol, FitResult
from apps.common import flags as flag_registry
from apps.common.formatting import format_interval, format_unit_value
from apps.common.rounding import BOUND, VALUE, rounded_row

from . import selectors
from .models import BenchmarkEntry

logger = logging.getLogger(__name__)

# Numbers in files are rounded to their uncertainty (two significant digits of it; apps.common.rounding):
# uncertainty column → the columns rounded with it. Numbers without one keep full precision.
ENTRY_UNCERTAINTIES = {"stderr": {"value": VALUE, "ci_low": BOUND, "ci_high": BOUND}}
FIT_UNCERTAINTIES = {"stderr": {"parameters": VALUE}}
FIT_PARAMETER_UNCERTAINTIES = {"stderr": {"value": VALUE}}
CONDUCTIVITY_UNCERTAINTIES = {
    "resistance_stderr_ohm": {"resistance_ohm": VALUE},
    "conductivity_stderr_s_per_cm": {"conductivity_s_per_cm": VALUE},
}



def _protocol_json(protocol: FitProtocol) -> dict:
    return {
        "name": protocol.name, "version": protocol.version, "description": protocol.description,
        "circuit": protocol.circuit, "weighting": protocol.weighting,
        "frequency_min_hz": protocol.frequency_min_hz, "frequency_max_hz": protocol.frequency_max_hz,
        "bounds": protocol.bounds, "element_roles": protocol.element_roles, "is_standard": protocol.is_standard,
        "applies_to": protocol.applies_to,
    }


def conductivity_row(c: Conductivity) -> dict:
    """One conductivity as written in files, rounded to its standard errors."""
    return rounded_row({
        "kind": c.kind, "resistance_ohm": c.resistance_ohm, "resistance_stderr_ohm": c.resistance_stderr_ohm,
        "conductivity_s_per_cm": c.conductivity_s_per_cm, "conductivity_stderr_s_per_cm": c.conductivity_stderr_s_per_cm,
        "temperature_c": c.temperature_c, "thickness_um": c.thickness_um, "area_cm2": c.area_cm2,
    }, CONDUCTIVITY_UNCERTAINTIES)


def _fit_json(fit: FitResult) -> dict:
    return rounded_row({
        "fit_id": fit.pk, "spectrum_id": fit.spectrum_id, "protocol": f"{fit.protocol.name} v{fit.protocol.version}",
        "status": fit.status, "parameters": fit.parameters, "stderr": fit.stderr, "chi_square": fit.chi_square,
        "reduced_chi_square": fit.reduced_chi_square, "converged": fit.converged, "derived": fit.derived,
        "flags": flag_registry.describe(fit.flags), "engine_version": fit.engine_version, "residuals_real": fit.residuals_real,
        "residuals_imag": fit.residuals_imag,
        "conductivities": [conductivity_row(c) for c in Conductivity.objects.filter(fit=fit).order_by("kind")],
    }, FIT_UNCERTAINTIES)


def _spectrum_csv(spectrum, user) -> str:
    try:
        from apps.measurements.exports import spectrum_csv
    except ImportError:  # exports not shipped: a plain three-column CSV
        out = io.StringIO()
        out.write("frequency_hz,z_real_ohm,z_imag_ohm\n")
        for f, z in zip(spectrum.frequencies_hz, spectrum.impedance_ohm):
            out.write(f"{f!r},{z.real!r},{z.imag!r}\n")
        return out.getvalue()
    return spectrum_csv(spectrum, user=user)


def _entry_json(entry: BenchmarkEntry, details: dict) -> dict:
    rounded = rounded_row({"value": entry.value, "stderr": entry.stderr, "ci_low": entry.ci_low,
                           "ci_high": entry.ci_high}, ENTRY_UNCERTAINTIES)
    return {
        "id": entry.pk, "metric": entry.metric, "metric_label": entry.get_metric_display(),
        "separator": str(entry.separator) if entry.separator_id else None, "cell": str(entry.cell) if entry.cell_id else None,
        "family": entry.family, "value": rounded["value"], "unit": entry.unit, "stderr": rounded["stderr"],
        "ci95": [rounded["ci_low"], rounded["ci_high"]], "temperature_c": entry.temperature_c,
        "stack_pressure_mpa": entry.stack_pressure_mpa, "thickness_um": entry.thickness_um, "method": entry.method,
        "completeness_score": entry.completeness_score, "missing_items": entry.missing_items, "flags": flag_registry.describe(entry.flags),
        "blocking": entry.blocking, "details": details, "computed_at": entry.computed_at.isoformat(),
    }


def _readme(entry: BenchmarkEntry, *, spectra, hidden: int, protocols, raw_names) -> str:
    ci = (format_interval(entry.ci_low, entry.ci_high, entry.stderr, entry.unit)
          if entry.ci_low is not None and entry.ci_high is not None else "n/a")
    flags = ", ".join(flag_registry.get(f).title for f in entry.flags) or "none"
    lines = [
        f"# Reproduce: {entry.get_metric_display()} of {entry.cell or entry.separator}",
        "",
        f"Value: {format_unit_value(entry.value, entry.stderr, entry.unit)} (95 % CI {ci})",
        f"Method: {entry.method}",
        f"Completeness: {entry.completeness_score:.0%}; missing: {', '.join(entry.missing_items) or 'nothing'}",
        f"Flags: {flags}",
        f"Engine version: {ENGINE_VERSION}; bundle written {timezone.now():%Y-%m-%d %H:%M} UTC",
        "",
        "## Contents",
        "- `entry.json`: the benchmark entry (value, uncertainty, completeness, flags, details naming only the records you may see).",
        "- `protocols/*.json`: the standard fit protocol(s): circuit, weighting, frequency window, bounds, element roles.",
        "- `spectra/<id>.csv` and `.json`: every spectrum used, with its conditions.",
        "- `raw/`: the original instrument files, byte for byte.",
        "- `fits/<spectrum id>.json`: fitted parameters with standard errors, χ², residuals, conductivities.",
        "",
        f"Spectra included: {len(spectra)}; protocols: {', '.join(protocols) or 'none'}; raw files: {len(raw_names)}.",
    ]
    if hidden:
        lines.append(f"{hidden} spectrum(s) used for this number are not visible to you and were left out.")
    lines += [
        "",
        "## Re-fit",
        "```python",
        "import json, numpy as np",
        "from apps.analysis.eis import fit_circuit",
        "p = json.load(open('protocols/<protocol>.json'))",
        "f, zr, zi = np.loadtxt('spectra/<id>.csv', delimiter=',', comments='#', skiprows=1, unpack=True)",
        "window = None if p['frequency_min_hz'] is None and p['frequency_max_hz'] is None else "
        "(p['frequency_min_hz'] or 0.0, p['frequency_max_hz'] or float('inf'))",
        "# standard protocols release a search-range bound that holds a parameter; a group's own keep theirs",
        "fit = fit_circuit(f, zr + 1j * zi, p['circuit'], weighting=p['weighting'], bounds=p['bounds'] or None,",
        "                  frequency_window_hz=window, bound_policy='relax' if p['is_standard'] else 'report')",
        "print(fit.parameters, fit.stderr)",
        "```",
        "Conductivity σ = L/(R·A) with L and A from the spectrum metadata; see the project's benchmark methods page.",
    ]
    return "\n".join(lines) + "\n"


def reproduce_bundle(entry: BenchmarkEntry, *, user=None) -> bytes:
    """A zip with what it takes to reproduce one entry, restricted to what `user` may see:
    README.md, entry.json, the protocol(s) as JSON, each spectrum as CSV and JSON, the
    original raw files, and the fits (parameters, stderr, χ², residuals, engine version)."""
    from apps.measurements.selectors import visible_raw_files, visible_spectra

    details = selectors.details_for_viewer([entry], user, whole=True)[entry.pk]  # names no hidden record
    spectra = list(visible_spectra(user=user, with_arrays=True).filter(pk__in=details.get("spectrum_ids", []))
                   .order_by("pk"))
    hidden = len(set(entry.record_ids.get("spectrum_ids", []))) - len(spectra)
    fits = selectors.standard_fits(spectra)
    protocols: dict[int, FitProtocol] = {}
    if entry.protocol_id:
        protocols[entry.protocol_id] = entry.protocol
    for fit in fits.values():
        protocols[fit.protocol_id] = fit.protocol
    raw_ids = {s.raw_file_id for s in spectra if s.raw_file_id}
    raw_files = list(visible_raw_files(user=user).filter(pk__in=raw_ids).order_by("pk"))

    buffer = io.BytesIO()
    raw_names = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("entry.json", json.dumps(_entry_json(entry, details), indent=2, default=str))
        names = []
        for protocol in protocols.values():
            name = re.sub(r"[^A-Za-z0-9]+", "-", f"{protocol.name}-v{protocol.version}").strip("-")
            names.append(f"{protocol.name} v{protocol.version}")
            bundle.writestr(f"protocols/{name}.json", json.dumps(_protocol_json(protocol), indent=2))
        for spectrum in spectra:
            bundle.writestr(f"spectra/{spectrum.pk}.csv", _spectrum_csv(spectrum, user))
            try:
                from apps.measurements.exports import spectrum_json

                bundle.writestr(f"spectra/{spectrum.pk}.json", spectrum_json(spectrum, user=user))
            except ImportError:
                pass
            if spectrum.pk in fits:
                fit = fits[spectrum.pk]
                fit.spectrum = spectrum  # its residuals are recomputed from these arrays, already read
                bundle.writestr(f"fits/{spectrum.pk}.json", json.dumps(_fit_json(fit), indent=2))
        for raw in raw_files:
            safe = re.sub(r"[^A-Za-z0-9._-]+", "_", raw.original_name) or "raw"
            name = f"raw/{raw.sha256[:10]}-{safe}"
            try:
                with raw.file.open("rb") as handle:
                    bundle.writestr(name, handle.read())
                raw_names.append(name)
            except (FileNotFoundError, ValueError, OSError):
                logger.warning("raw file %s missing from storage", raw.pk)
        if entry.separator_id and entry.metric == "activation_energy":
            fits_a = ArrheniusFit.objects.filter(separator_id=entry.separator_id, protocol__is_standard=True)
            bundle.writestr("arrhenius.json", json.dumps([
                {"kind": a.kind, "form": a.form, "activation_energy_ev": a.activation_energy_ev,
                 "activation_energy_stderr_ev": a.activation_energy_stderr_ev, "points": a.points,
                 "temperature_min_c": a.temperature_min_c, "temperature_max_c": a.temperature_max_c}
                for a in fits_a], indent=2))
        bundle.writestr("README.md", _readme(entry, spectra=spectra, hidden=hidden, protocols=names,
                                             raw_names=raw_names))
    return buffer.getvalue()
