"""Plotly figures of impedance spectra, built server-side and drawn by plotly.js.

Every function returns a `plotly.graph_objects.Figure`; `figure_json` turns
it into the JSON the page hands to `Plotly.newPlot`. Large spectra are thinned
so a page never ships more than `MAX_POINTS_PER_TRACE` points per trace.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from apps.common.formatting import format_quantity

MAX_POINTS_PER_TRACE = 2000
MAX_TRACES = 12  # overlays beyond this are unreadable anyway; the caller picks which to keep
GL_THRESHOLD = 1500  # WebGL scatter above this many points per trace

#: The look of every figure, added to its JSON when serialised (`figure_json`): assigning a plotly template
#: to a figure validates and deep-copies it, ~0.1 s per figure, most of a plot page's server time.
SITE_TEMPLATE = pio.templates["plotly_white"].to_plotly_json()

_LAYOUT = dict(
    template="none",
    margin=dict(l=60, r=20, t=80, b=50),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    hovermode="closest",
)


def _title(text: str) -> dict:
    """Title pinned to the top edge, clear of the legend that sits just above the plot area."""
    return dict(text=text, x=0.01, xanchor="left", y=0.98, yanchor="top", font=dict(size=15))


class SiteFigure(go.Figure):
    """A plotly Figure built without a template (see `SITE_TEMPLATE`) whose JSON carries the site's template."""

    def __init__(self, data=None, layout=None, **kwargs):
        if layout is None or isinstance(layout, dict):
            layout = {"template": "none", **(layout or {})}
        super().__init__(data, layout, **kwargs)

    def to_json(self, *args, **kwargs) -> str:
        return figure_json(self)


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js JSON, with the site's template."""
    data = fig.to_plotly_json()
    layout = data.setdefault("layout", {})
    if "layout" not in (layout.get("template") or {}):  # built with template "none"
        layout["template"] = SITE_TEMPLATE
    return pio.to_json(data, validate=False)


def thin_indices(n: int, max_points: int = MAX_POINTS_PER_TRACE) -> np.ndarray:
    """Evenly spaced indices keeping the first and last point; all of them when n ≤ max_points."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def _scatter(n_points: int):
    return go.Scattergl if n_points > GL_THRESHOLD else go.Scatter


def _finite(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def impedance_hover(f: np.ndarray, z: np.ndarray) -> list[str]:
    """Hover text of each point: Z', −Z'' and f by the site's number rule (kΩ, kHz …)."""
    return [
        f"Z' {format_quantity(zi.real, None, 'resistance')}<br>−Z'' {format_quantity(-zi.imag, None, 'resistance')}"
        f"<br>f {format_quantity(fi, None, 'frequency')}"
        for fi, zi in zip(f, z)
    ]


def nyquist_figure(
    spectra: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    fit: tuple[str, np.ndarray, np.ndarray] | None = None,
    title: str = "Nyquist",
) -> go.Figure:
    """−Z'' against Z' with equal axis scales (a semicircle must look round).

    `spectra`: (label, frequencies_hz, impedance_ohm) each; `fit`: the model curve, drawn as a line.
    """
    fig = SiteFigure()
    for label, f, z in list(spectra)[:MAX_TRACES]:
        idx = thin_indices(len(f))
        trace = _scatter(len(idx))
        fig.add_trace(
            trace(
                x=_finite(z.real[idx]),
                y=_finite(-z.imag[idx]),
                mode="markers",
                name=label,
                text=impedance_hover(f[idx], z[idx]),
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                marker=dict(size=6),
            )
        )
    if fit is not None:
        label, f, z = fit
        idx = thin_indices(len(f))
        fig.add_trace(go.Scatter(x=_finite(z.real[idx]), y=_finite(-z.imag[idx]), mode="lines", name=label))
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(title_text="Z' (Ω)", zeroline=True)
    fig.update_yaxes(title_text="−Z'' (Ω)", scaleanchor="x", scaleratio=1, zeroline=True)
    return fig


def bode_figure(
    spectra: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    fit: tuple[str, np.ndarray, np.ndarray] | None = None,
) -> go.Figure:
    """|Z| (log) and phase (degrees, −θ up) against frequency (log), sharing the frequency axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, figure=SiteFigure())
    curves = [(label, f, z, "markers") for label, f, z in list(spectra)[:MAX_TRACES]]
    if fit is not None:
        curves.append((*fit, "lines"))
    for i, (label, f, z, mode) in enumerate(curves):
        idx = thin_indices(len(f))
        trace = _scatter(len(idx))
        group = f"bode{i}"
        fig.add_trace(
            trace(x=_finite(f[idx]), y=_finite(np.abs(z[idx])), mode=mode, name=label, legendgroup=group),
            row=1,
            col=1,
        )
        fig.add_trace(
            trace(
                x=_finite(f[idx]),
                y=_finite(-np.degrees(np.angle(z[idx]))),
                mode=mode,
                name=label,
                legendgroup=group,
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    fig.update_layout(title=_title("Bode"), **_LAYOUT)
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_xaxes(type="log", title_text="Frequency (Hz)", row=2, col=1)
    fig.update_yaxes(type="log", title_text="|Z| (Ω)", row=1, col=1)
    fig.update_yaxes(title_text="−phase (°)", row=2, col=1)
    return fig


def residuals_figure(
    frequencies_hz: np.ndarray,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    threshold: float | None = None,
) -> go.Figure:
    """Relative residuals (in %) of the real and imaginary parts against frequency."""
    fig = SiteFigure()
    f = np.asarray(frequencies_hz, dtype=float)
    for label, real, imag in series:
        real = np.asarray(real, dtype=float)
        imag = np.asarray(imag, dtype=float)
        n = min(len(f), len(real), len(imag))
        idx = thin_indices(n)
        fig.add_trace(go.Scatter(x=_finite(f[idx]), y=_finite(100 * real[idx]), mode="lines+markers", name=f"{label} Δ real"))
        fig.add_trace(go.Scatter(x=_finite(f[idx]), y=_finite(100 * imag[idx]), mode="lines+markers", name=f"{label} Δ imag"))
    if threshold is not None:
        for sign in (1, -1):
            fig.add_hline(y=sign * 100 * threshold, line_dash="dot", line_color="#999")
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(type="log", title_text="Frequency (Hz)")
    fig.update_yaxes(title_text="Residual (% of |Z|)")
    return fig


def drt_figure(tau_s: np.ndarray, gamma_ohm: np.ndarray, peaks_tau_s=(), peaks_gamma=()) -> go.Figure:
    """Distribution of relaxation times γ(ln τ) with its peaks marked."""
    fig = SiteFigure()
    fig.add_trace(go.Scatter(x=_finite(tau_s), y=_finite(gamma_ohm), mode="lines", name="γ(τ)"))
    if len(peaks_tau_s):
        fig.add_trace(
            go.Scatter(x=_finite(peaks_tau_s), y=_finite(peaks_gamma), mode="markers", name="peaks", marker=dict(size=9, symbol="x"))
        )
    fig.update_layout(title=_title("Distribution of relaxation times"), **_LAYOUT)
    fig.update_xaxes(type="log", title_text="τ (s)")
    fig.update_yaxes(title_text="γ (Ω)")
    return fig


def message_figure(text: str, title: str = "") -> go.Figure:
    """An empty figure that says why there is nothing to draw."""
    fig = SiteFigure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14, color="#666"))
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def dc_polarisation_figure(time_s, current_a, *, steady_current_a: float, voltage_v: float) -> go.Figure:
    """Current against time of a DC polarisation, the steady-state current I_ss as a dashed line."""
    fig = go.Figure()
    t, i = np.asarray(time_s, dtype=float), np.asarray(current_a, dtype=float)
    idx = thin_indices(len(t))
    fig.add_trace(
        go.Scatter(
            x=_finite(t[idx] / 3600), y=_finite(i[idx]), mode="lines+markers", marker=dict(size=4),
            name=f"I(t) at ΔV = {voltage_v:g} V", hovertemplate="t %{x:.3g} h<br>I %{y:.3g} A<extra></extra>",
        )
    )
    # A trace rather than add_hline: a shape's annotation on a log axis lands at 10^y and stretches the range.
    span = [float(np.nanmin(t)) / 3600, float(np.nanmax(t)) / 3600] if t.size else [0.0, 1.0]
    fig.add_trace(go.Scatter(x=span, y=[steady_current_a, steady_current_a], mode="lines", name="steady state I_ss",
                             line=dict(dash="dash", color="#c0392b"), hovertemplate="I_ss %{y:.3g} A<extra></extra>"))
    fig.update_layout(title=_title("Current during DC polarisation"), **_LAYOUT)
    fig.update_xaxes(title_text="Time (h)")
    fig.update_yaxes(title_text="Current (A)", type="log", dtick=1, exponentformat="power")
    return fig


def ccd_figure(steps: Sequence[dict], *, unit_label: str = "mA/cm²") -> go.Figure:
    """The current-density staircase of a CCD test against step number, the failing step marked."""
    fig = go.Figure()
    numbers = [s["number"] for s in steps]
    densities = [s["current_density_ma_per_cm2"] for s in steps]
    fig.add_trace(go.Scatter(x=numbers, y=densities, mode="lines+markers", line_shape="hv", name="applied step",
                             hovertemplate=f"step %{{x}}<br>j %{{y:.3g}} {unit_label}<extra></extra>"))
    failed = [s for s in steps if s["failed"]]
    if failed:
        fig.add_trace(go.Scatter(x=[failed[0]["number"]], y=[failed[0]["current_density_ma_per_cm2"]], mode="markers",
                                 marker=dict(size=13, symbol="x", color="#c0392b"), name="failure (CCD)"))
    fig.update_layout(title=_title("Current-density steps"), **_LAYOUT)
    fig.update_xaxes(title_text="Step number", dtick=1 if len(steps) <= 20 else None)
    fig.update_yaxes(title_text=f"Current density ({unit_label})", rangemode="tozero")
    return fig
