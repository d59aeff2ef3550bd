"""Page figures of a hand fit: the fit preview that the spectrum page draws before a fit is saved.

The preview runs the engine synchronously inside the request, so it is bounded: at most
`PREVIEW_MAX_POINTS` points (evenly thinned in log frequency), `PREVIEW_STARTS` starts, and
`PREVIEW_TIMEOUT_S` of wall time before the page is told to narrow the problem. Nothing is stored.
"""
from __future__ import annotations

import concurrent.futures
import math
from dataclasses import dataclass

import numpy as np

from apps.analysis import eis
from apps.common.formatting import format_number, format_quantity, format_unit_value

from . import plots

PREVIEW_MAX_POINTS = 300
PREVIEW_MAX_PARAMETERS = 24
PREVIEW_STARTS = 4
PREVIEW_TIMEOUT_S = 8.0

# One worker thread per process: previews queue behind each other instead of taking every core.
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit-preview")

PARAMETER_UNITS = {
    "R": "Ω",
    "C": "F",
    "L": "H",
    "CPE_Q": "F·s^(n−1)",
    "CPE_n": "",
    "W": "Ω·s^−½",
    "Wo_Z0": "Ω",
    "Wo_tau": "s",
    "Ws_Z0": "Ω",
    "Ws_tau": "s",
    "G_R": "Ω",
    "G_tau": "s",
    "La_L": "H·s^(a−1)",
    "La_a": "",
}


def parameter_unit(name: str) -> str:
    """Unit of a fitted parameter from its element prefix, e.g. R1 → Ω, CPE1_Q → F·s^(n−1)."""
    element, _, suffix = name.partition("_")
    prefix = element.rstrip("0123456789")
    return PARAMETER_UNITS.get(f"{prefix}_{suffix}" if suffix else prefix, "")


class PreviewError(ValueError):
    """The preview cannot run as asked; the message says what to change (field named when there is one)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PreviewRequest:
    circuit: str
    initial_values: dict[str, float]
    fixed: dict[str, float]
    frequency_min_hz: float | None = None
    frequency_max_hz: float | None = None


def _thinned(f: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if f.size <= PREVIEW_MAX_POINTS:
        return f, z
    idx = np.unique(np.linspace(0, f.size - 1, PREVIEW_MAX_POINTS).round().astype(int))
    return f[idx], z[idx]


def check_names(circuit_text: str, names: list[str]) -> list[str]:
    """The circuit's parameter names; PreviewError when the circuit does not parse or a name is not in it."""
    try:
        circuit = eis.parse_circuit(circuit_text)
    except ValueError as exc:
        raise PreviewError(f"Circuit {circuit_text!r}: {exc}", "circuit") from None
    unknown = [n for n in names if n not in circuit.parameter_names]
    if unknown:
        raise PreviewError(f"{', '.join(unknown)} not in {circuit_text} (its parameters: "
                           f"{', '.join(circuit.parameter_names)})", "parameters")
    if len(circuit.parameter_names) > PREVIEW_MAX_PARAMETERS:
        raise PreviewError(f"A preview fits at most {PREVIEW_MAX_PARAMETERS} parameters.", "circuit")
    return list(circuit.parameter_names)


def fit_preview(frequencies_hz: np.ndarray, impedance_ohm: np.ndarray, request: PreviewRequest, *,
                label: str) -> dict:
    """Fit, then the parameter rows (value ± standard error, unit, fixed), χ² and the Nyquist and residual
    figures of the fit over the data (same colour family), as JSON-ready values."""
    names = check_names(request.circuit, [*request.initial_values, *request.fixed])
    f, z = _thinned(np.asarray(frequencies_hz, float), np.asarray(impedance_ohm, complex))
    low, high = request.frequency_min_hz, request.frequency_max_hz
    if low is not None and high is not None and low >= high:
        raise PreviewError("The lowest frequency must be below the highest.", "frequency_min_hz")
    window = None if low is None and high is None else (low or 0.0, high or math.inf)
    job = _EXECUTOR.submit(
        eis.fit_circuit, f, z, request.circuit, initial_guess=request.initial_values or None,
        fixed=request.fixed or None, frequency_window_hz=window, n_starts=PREVIEW_STARTS,
    )
    try:
        result = job.result(timeout=PREVIEW_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        raise PreviewError(f"The preview took longer than {PREVIEW_TIMEOUT_S:g} s; fix some parameters or "
                           "narrow the frequency window, or save the fit to run it in the background.") from None
    except ValueError as exc:  # FitError and circuit errors: the engine names the problem
        raise PreviewError(str(exc)) from None
    rows = []
    for n in names:
        value, unit, fixed = float(result.parameters[n]), parameter_unit(n), n in request.fixed
        stderr = float(result.stderr[n]) if not fixed and math.isfinite(result.stderr[n]) else None
        text = format_unit_value(value, stderr, unit)
        if fixed:
            text += " (fixed)"
        elif stderr is None:
            text += " (error not determined)"
        rows.append({"name": n, "value": value, "unit": unit, "fixed": fixed, "stderr": stderr, "text": text})
    fitted = np.asarray(result.frequencies_hz if result.frequencies_hz is not None else f, float)
    dense = np.logspace(np.log10(fitted.min()), np.log10(fitted.max()), 300)[::-1]
    model = eis.circuit_impedance(request.circuit, result.parameters, dense)
    curve = (f"preview: {request.circuit}", dense, model)
    figures = {
        "preview_nyquist": plots.nyquist_figure([(label, f, z)], fit=curve, title="Preview: Nyquist"),
        "preview_residuals": plots.residuals_figure(
            fitted, [("preview", result.residuals_real, result.residuals_imag)], title="Preview: residuals"),
    }
    return {
        "parameters": rows,
        "chi_square": float(result.chi_square),
        "summary": f"χ² = {format_number(result.chi_square)}, reduced χ² = {format_number(result.reduced_chi_square)} "
                   f"over {fitted.size} points" + ("" if result.converged else " — did not converge"),
        "reduced_chi_square": float(result.reduced_chi_square),
        "converged": bool(result.converged),
        "n_points": int(fitted.size),
        "figures": {k: plots.figure_json(v) for k, v in figures.items()},
    }


# ---------------------------------------------------------------- the sample's arcs of a fitted spectrum

#: Roles whose arcs belong to the sample (what decides σ and the interfacial ASR), as opposed to the electrodes.
SAMPLE_ROLES = ("bulk", "grain_boundary", "total", "interface")
#: The sample region ends a decade below the lowest apex frequency of its arcs: the arc is then complete.
SAMPLE_EDGE_DECADES = 1.0
#: The DRT opens on the sample arcs' τ, widened by this factor each side.
TAU_MARGIN = 30.0


@dataclass(frozen=True)
class SampleView:
    """What the spectrum plots show first: the fitted arcs marked, and for a spectrum with an electrode spike
    the Nyquist zoomed on the sample's arcs and the DRT on their τ range (None otherwise)."""

    arcs: list[plots.ArcMark]
    zoom: plots.NyquistZoom | None = None
    tau_range_s: tuple[float, float] | None = None


def sample_view(*, circuit: str, parameters: dict, roles: dict, elements: dict, frequencies_hz: np.ndarray,
                impedance_ohm: np.ndarray, role_titles: dict[str, str]) -> SampleView:
    """The sample arcs of a fit (elements whose role is bulk, grain boundary, total or interface), each marked
    at the model's apex with R, C_eff and f_apex; with an electrode element among the roles, the initial
    Nyquist ranges cover the data down to a decade below the lowest sample apex and the DRT the arcs' τ."""
    arcs, apexes = [], []
    for name, element in sorted(elements.items()):
        f_apex = element.get("apex_frequency_hz")
        if element.get("role") not in SAMPLE_ROLES or not f_apex or not math.isfinite(f_apex):
            continue
        title = role_titles.get(element["role"], element["role"])
        z_apex = complex(eis.circuit_impedance(circuit, parameters, np.array([f_apex]))[0])
        hover = "<br>".join([
            f"{title} arc ({name})",
            f"R = {format_quantity(element.get('resistance_ohm'), element.get('resistance_stderr_ohm'), 'resistance')}",
            f"C_eff = {format_quantity(element.get('capacitance_f'), None, 'capacitance')}",
            f"f_apex = {format_quantity(f_apex, None, 'frequency')}",
        ])
        arcs.append(plots.ArcMark(label=title.lower(), z_apex_ohm=z_apex, hover=hover))
        apexes.append(f_apex)
    if not apexes or "electrode" not in set(roles.values()):
        return SampleView(arcs=arcs)
    f = np.asarray(frequencies_hz, dtype=float)
    z = np.asarray(impedance_ohm, dtype=complex)
    edge_hz = min(apexes) / 10**SAMPLE_EDGE_DECADES
    inside = f >= edge_hz
    if not inside.any() or inside.all():
        return SampleView(arcs=arcs)  # nothing beyond the sample arcs to zoom away from
    edge_z = complex(eis.circuit_impedance(circuit, parameters, np.array([edge_hz]))[0])
    x_low = min(0.0, float(z.real[inside].min()))
    x_high = max(float(z.real[inside].max()), edge_z.real)
    width = x_high - x_low
    y_high = max(float((-z.imag[inside]).max()), -edge_z.imag, 0.5 * width)
    zoom = plots.NyquistZoom(x_range_ohm=(x_low - 0.03 * width, x_high + 0.05 * width),
                             y_range_ohm=(-0.05 * width, 1.1 * y_high))
    taus = [1 / (2 * math.pi * fa) for fa in apexes]
    return SampleView(arcs=arcs, zoom=zoom, tau_range_s=(min(taus) / TAU_MARGIN, max(taus) * TAU_MARGIN))


def dense_fit_curve(fit, frequencies_hz: np.ndarray, label: str) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(label, f, Z) of a successful fit's model drawn densely over the measured range, so arcs look smooth;
    None for a missing or failed fit or one whose circuit no longer evaluates."""
    if fit is None or fit.status != "succeeded" or not fit.parameters:
        return None
    f = np.asarray(frequencies_hz, dtype=float)
    dense = np.logspace(np.log10(f.min()), np.log10(f.max()), 300)[::-1]
    try:
        return label, dense, eis.circuit_impedance(fit.protocol.circuit, fit.parameters, dense)
    except (ValueError, KeyError):
        return None
