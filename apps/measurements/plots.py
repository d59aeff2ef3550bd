"""Plotly figures of impedance spectra, built server-side and drawn by plotly.js.

Every function returns a `SiteFigure` (plain dicts, see `apps.common.plotly_figure`); `figure_json` turns
it into the JSON the page hands to `Plotly.newPlot`. Large spectra are thinned
so a page never ships more than `MAX_POINTS_PER_TRACE` points per trace.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.io as pio

from apps.common.formatting import format_quantity
from apps.common.plotly_figure import Figure, subplot_grid, trace

MAX_POINTS_PER_TRACE = 2000
MAX_TRACES = 12  # overlays beyond this are unreadable anyway; the caller picks which to keep
GL_THRESHOLD = 1500  # WebGL scatter above this many points per trace

#: The look of every figure, added to its JSON when serialised (`figure_json`).
SITE_TEMPLATE = pio.templates["plotly_white"].to_plotly_json()

# The legend sits below the plot, under the x-axis title, so it can never run into the title above.
_LAYOUT = dict(
    margin=dict(l=65, r=20, t=50, b=105),
    legend=dict(orientation="h", yanchor="top", y=-0.2, x=0, yref="paper"),
    hovermode="closest",
)
#: A log axis labelled at every decade as 10ⁿ (no "2 3 … 7 8 9 100" minor labels).
LOG_AXIS = dict(type="log", dtick=1, exponentformat="power")



def log_axis_for(values) -> dict:
    """A log axis for these values labelled so it reads at a glance: every decade (10ⁿ) when they span two
    decades or more, else the 1–2–5 steps inside their range as plain numbers (“200 500 1000”), never the
    minor digits “7 8 9 100 2 3”."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], dtype=float)
    if v.size == 0 or np.log10(v.max() / v.min()) >= 2:
        return dict(LOG_AXIS)
    low, high = np.floor(np.log10(v.min())) - 1, np.ceil(np.log10(v.max())) + 1
    steps = [m * 10.0**k for k in range(int(low), int(high) + 1) for m in (1, 2, 5)]
    # One step either side of the data, so the first and last points sit between labels.
    inside = [t for t in steps if v.min() / 2.5 <= t <= v.max() * 2.5]
    return dict(type="log", tickvals=inside, ticktext=[f"{t:g}" for t in inside])


#: Colour families: (data, fit). Measured points take the light shade, the fitted curve of the same
#: spectrum the dark shade, in the Nyquist, Bode and residual plots alike.
COLOUR_FAMILIES = [
    ("#5b9bd5", "#0b4f9c"), ("#ef7b6f", "#b0241a"), ("#6cc36c", "#23782a"), ("#a98bdc", "#5b3a99"),
    ("#f5a74d", "#b35c00"), ("#5cc8cf", "#0f7f88"), ("#c79a7e", "#7a4a2c"), ("#ee8fcb", "#a8307c"),
    ("#a6a6a6", "#4d4d4d"), ("#c4c75a", "#7a7d14"), ("#7fa8e8", "#2d4f99"), ("#e8a37f", "#9c4a1f"),
]


def colour_family(index: int) -> tuple[str, str]:
    return COLOUR_FAMILIES[index % len(COLOUR_FAMILIES)]


def _title(text: str) -> dict:
    """Title pinned to the top edge; the legend is below the plot."""
    return dict(text=text, x=0.01, xanchor="left", y=0.98, yanchor="top", font=dict(size=15))


def view_buttons(zoomed: dict, label: str) -> list[dict]:
    """Two plotly buttons in the plot's top-right corner (clear of the title and of plotly's own tool bar):
    the zoomed ranges (`zoomed`: relayout arguments) and the full view."""
    full = {key.replace(".range", ".autorange"): True for key in zoomed}
    return [dict(
        type="buttons", direction="left", showactive=True, active=0, x=0.99, xanchor="right", y=0.99, yanchor="top",
        bgcolor="rgba(255,255,255,0.85)",
        pad=dict(r=0, t=0), font=dict(size=11),
        buttons=[dict(label=label, method="relayout", args=[zoomed]),
                 dict(label="Full view", method="relayout", args=[full])],
    )]


class SiteFigure(Figure):
    """A figure whose JSON carries the site's template (`SITE_TEMPLATE`)."""

    def to_json(self, template: dict | None = None) -> str:
        return super().to_json(template=SITE_TEMPLATE if template is None else template)


def figure_json(fig: Figure) -> str:
    """The figure as plotly.js JSON, with the site's template."""
    return fig.to_json(template=SITE_TEMPLATE)


def thin_indices(n: int, max_points: int = MAX_POINTS_PER_TRACE, frequencies_hz=None) -> np.ndarray:
    """Evenly spaced indices keeping the first and last point; all of them when n ≤ max_points.

    With ``frequencies_hz`` the lowest and highest frequency are kept too, wherever they are in the sweep.
    """
    if n <= max_points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, max_points).round().astype(int)
    if frequencies_hz is not None:
        f = np.asarray(frequencies_hz, dtype=float)[:n]
        idx = np.concatenate([idx, [int(np.nanargmin(f)), int(np.nanargmax(f))]])
    return np.unique(idx)


def _scatter(n_points: int) -> str:
    """The trace type: WebGL above `GL_THRESHOLD` points."""
    return "scattergl" if n_points > GL_THRESHOLD else "scatter"


def _finite(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


@lru_cache(maxsize=8192)
def _frequency_text(frequency_hz: float) -> str:
    """Spectra share their sweeps' frequencies (an overlay of six spectra, most instruments' default sweeps)."""
    return format_quantity(frequency_hz, None, "frequency")


def impedance_hover(f: np.ndarray, z: np.ndarray) -> list[str]:
    """Hover text of each point: Z', −Z'' and f by the site's number rule (kΩ, kHz …)."""
    return [
        f"Z' {format_quantity(zi.real, None, 'resistance')}<br>−Z'' {format_quantity(-zi.imag, None, 'resistance')}"
        f"<br>f {_frequency_text(float(fi))}"
        for fi, zi in zip(f, z)
    ]


@dataclass(frozen=True)
class ArcMark:
    """One fitted arc marked at its apex on the Nyquist plot: the model's Z there and what it means."""

    label: str  # short, drawn beside the apex, e.g. "bulk"
    z_apex_ohm: complex
    hover: str  # R, C_eff and f_apex by the number rule


@dataclass(frozen=True)
class NyquistZoom:
    """The initial view on the sample's arcs (Z' and −Z'' ranges, Ω); the full view is one click away."""

    x_range_ohm: tuple[float, float]
    y_range_ohm: tuple[float, float]


def nyquist_figure(
    spectra: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    fit: tuple[str, np.ndarray, np.ndarray] | None = None,
    fits: Sequence[tuple[str, np.ndarray, np.ndarray] | None] = (),
    title: str = "Nyquist",
    zoom: NyquistZoom | None = None,
    arcs: Sequence[ArcMark] = (),
) -> SiteFigure:
    """−Z'' against Z' with equal axis scales (a semicircle must look round), −Z'' up.

    `spectra`: (label, frequencies_hz, impedance_ohm) each; `fits`: the model curve of each spectrum (same
    order, None where there is none; `fit` is the first spectrum's), drawn as a line in the dark shade of its
    spectrum's colour. `zoom`: initial ranges on the sample arcs, with a button back to the full view.
    `arcs`: fitted arcs marked at their apex, with R, C_eff and f_apex on hover.
    """
    fig = SiteFigure()
    spectra = list(spectra)[:MAX_TRACES]
    fits = list(fits) or ([fit] if fit is not None else [])
    for i, (label, f, z) in enumerate(spectra):
        data_colour, _ = colour_family(i)
        idx = thin_indices(len(f), frequencies_hz=f)
        fig.add_trace(
            trace(
                _scatter(len(idx)),
                x=_finite(z.real[idx]),
                y=_finite(-z.imag[idx]),
                mode="markers",
                name=label,
                text=impedance_hover(f[idx], z[idx]),
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                marker=dict(size=6, color=data_colour),
            )
        )
    for i, curve in enumerate(fits[: len(spectra)] if spectra else fits[:1]):
        if curve is None:
            continue
        label, f, z = curve
        idx = thin_indices(len(f))
        fig.add_trace(trace("scatter", x=_finite(z.real[idx]), y=_finite(-z.imag[idx]), mode="lines", name=label,
                                 line=dict(color=colour_family(i)[1], width=2), hoverinfo="skip"))
    if arcs:
        fig.add_trace(trace(
            "scatter", x=[a.z_apex_ohm.real for a in arcs], y=[-a.z_apex_ohm.imag for a in arcs], mode="markers+text",
            name="fitted arcs (apex)", text=[a.label for a in arcs], textposition="top center",
            customdata=[a.hover for a in arcs], hovertemplate="%{customdata}<extra></extra>",
            marker=dict(symbol="diamond", size=10, color="#222", line=dict(color="white", width=1)),
        ))
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(title=dict(text="Z' (Ω)"), zeroline=True, constrain="domain")
    fig.update_yaxes(title=dict(text="−Z'' (Ω)"), scaleanchor="x", scaleratio=1, zeroline=True, constrain="domain")
    if zoom is not None:
        ranges = {"xaxis.range": list(zoom.x_range_ohm), "yaxis.range": list(zoom.y_range_ohm)}
        fig.update_xaxes(range=list(zoom.x_range_ohm))
        fig.update_yaxes(range=list(zoom.y_range_ohm))
        fig.update_layout(updatemenus=view_buttons(ranges, "Sample arcs"))
    return fig


def bode_figure(
    spectra: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    fit: tuple[str, np.ndarray, np.ndarray] | None = None,
    fits: Sequence[tuple[str, np.ndarray, np.ndarray] | None] = (),
) -> SiteFigure:
    """|Z| (log) and phase (degrees, −θ up) against frequency (log), sharing the frequency axis; each
    spectrum's points and its fitted curve in one colour family, one legend entry each."""
    fig = SiteFigure(grid=subplot_grid(2, 1, shared_xaxes=True, vertical_spacing=0.08))
    spectra = list(spectra)[:MAX_TRACES]
    fits = list(fits) or ([fit] if fit is not None else [])
    curves = [(label, f, z, "markers", colour_family(i)[0]) for i, (label, f, z) in enumerate(spectra)]
    curves += [(*curve, "lines", colour_family(i)[1]) for i, curve in enumerate(fits[: max(len(spectra), 1)])
               if curve is not None]
    for i, (label, f, z, mode, colour) in enumerate(curves):
        idx = thin_indices(len(f), frequencies_hz=f)
        kind = _scatter(len(idx))
        group = f"bode{i}"
        style = dict(marker=dict(color=colour, size=6)) if mode == "markers" else dict(line=dict(color=colour, width=2))
        fig.add_trace(
            trace(kind, x=_finite(f[idx]), y=_finite(np.abs(z[idx])), mode=mode, name=label, legendgroup=group, **style),
            row=1,
            col=1,
        )
        fig.add_trace(
            trace(
                kind,
                x=_finite(f[idx]),
                y=_finite(-np.degrees(np.angle(z[idx]))),
                mode=mode,
                name=label,
                legendgroup=group,
                showlegend=False,
                **style,
            ),
            row=2,
            col=1,
        )
    fig.update_layout(title=_title("Bode"), **_LAYOUT)
    fig.update_xaxes(**LOG_AXIS, row=1, col=1)
    fig.update_xaxes(**LOG_AXIS, title=dict(text="Frequency (Hz)"), row=2, col=1)
    fig.update_yaxes(**LOG_AXIS, title=dict(text="|Z| (Ω)"), row=1, col=1)
    fig.update_yaxes(title=dict(text="−phase (°)"), row=2, col=1)
    return fig


def residuals_figure(
    frequencies_hz: np.ndarray,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    threshold: float | None = None,
) -> SiteFigure:
    """Relative residuals (in %) of the real and imaginary parts against frequency; each series in its
    colour family (real: light shade, circles; imaginary: dark shade, diamonds)."""
    fig = SiteFigure()
    f = np.asarray(frequencies_hz, dtype=float)
    for i, (label, real, imag) in enumerate(series):
        light, dark = colour_family(i)
        real = np.asarray(real, dtype=float)
        imag = np.asarray(imag, dtype=float)
        n = min(len(f), len(real), len(imag))
        idx = thin_indices(n, frequencies_hz=f[:n])
        fig.add_trace(trace("scatter", x=_finite(f[idx]), y=_finite(100 * real[idx]), mode="lines+markers", name=f"{label} Δ real",
                                 line=dict(color=light), marker=dict(color=light, symbol="circle")))
        fig.add_trace(trace("scatter", x=_finite(f[idx]), y=_finite(100 * imag[idx]), mode="lines+markers", name=f"{label} Δ imag",
                                 line=dict(color=dark, dash="dot"), marker=dict(color=dark, symbol="diamond")))
    if threshold is not None:
        for sign in (1, -1):
            fig.add_hline(y=sign * 100 * threshold, line=dict(color="#999", dash="dot"))
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(**LOG_AXIS, title=dict(text="Frequency (Hz)"))
    fig.update_yaxes(title=dict(text="Residual (% of |Z|)"), exponentformat="power")
    return fig


def drt_figure(tau_s: np.ndarray, gamma_ohm: np.ndarray, peaks_tau_s=(), peaks_gamma=(), *,
               sample_tau_range_s: tuple[float, float] | None = None) -> SiteFigure:
    """Distribution of relaxation times γ(ln τ) with its peaks marked.

    With `sample_tau_range_s` (the τ span of the sample's fitted arcs), the view opens on that span, γ
    scaled to it, and the electrode tail beyond it is drawn grey and named; one click shows everything.
    """
    fig = SiteFigure()
    tau, gamma = np.asarray(tau_s, dtype=float), np.asarray(gamma_ohm, dtype=float)
    light, dark = colour_family(0)
    if sample_tau_range_s is None:
        fig.add_trace(trace("scatter", x=_finite(tau), y=_finite(gamma), mode="lines", name="γ(τ)", line=dict(color=dark)))
    else:
        low, high = sample_tau_range_s
        tail = tau > high
        sample = ~tail
        fig.add_trace(trace("scatter", x=_finite(tau[sample]), y=_finite(gamma[sample]), mode="lines", name="γ(τ), sample",
                                 line=dict(color=dark)))
        if tail.any():
            # The tail takes the sample point next to it as well, so the curve stays continuous.
            tail_drawn = tail.copy()
            for k in np.flatnonzero(np.diff(tail.astype(int))):
                tail_drawn[k] = tail_drawn[k + 1] = True
            fig.add_trace(trace("scatter", x=_finite(tau[tail_drawn]), y=_finite(gamma[tail_drawn]), mode="lines",
                                     name="γ(τ), electrode tail", line=dict(color="#999", dash="dash"),
                                     fill="tozeroy", fillcolor="rgba(150,150,150,0.15)"))
    if len(peaks_tau_s):
        fig.add_trace(
            trace("scatter", x=_finite(peaks_tau_s), y=_finite(peaks_gamma), mode="markers", name="peaks",
                       marker=dict(size=9, symbol="x", color=light))
        )
    fig.update_layout(title=_title("Distribution of relaxation times"), **_LAYOUT)
    fig.update_xaxes(**LOG_AXIS, title=dict(text="τ (s)"))
    fig.update_yaxes(title=dict(text="γ (Ω)"))
    if sample_tau_range_s is not None:
        low, high = sample_tau_range_s
        in_view = (tau >= low) & (tau <= high)
        top = float(np.nanmax(gamma[in_view])) if in_view.any() else float(np.nanmax(gamma))
        ranges = {"xaxis.range": [float(np.log10(low)), float(np.log10(high))], "yaxis.range": [0.0, 1.1 * top]}
        fig.update_xaxes(range=ranges["xaxis.range"])
        fig.update_yaxes(range=ranges["yaxis.range"])
        fig.update_layout(updatemenus=view_buttons(ranges, "Sample τ range"))
    return fig


def message_figure(text: str, title: str = "") -> SiteFigure:
    """An empty figure that says why there is nothing to draw."""
    fig = SiteFigure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14, color="#666"))
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def dc_polarisation_figure(time_s, current_a, *, steady_current_a: float, voltage_v: float) -> SiteFigure:
    """Current against time of a DC polarisation, the steady-state current I_ss as a dashed line."""
    fig = SiteFigure()
    t, i = np.asarray(time_s, dtype=float), np.asarray(current_a, dtype=float)
    idx = thin_indices(len(t))
    fig.add_trace(
        trace(
            "scatter", x=_finite(t[idx] / 3600), y=_finite(i[idx]), mode="lines+markers", marker=dict(size=4),
            name=f"I(t) at ΔV = {voltage_v:g} V", hovertemplate="t %{x:.3g} h<br>I %{y:.3g} A<extra></extra>",
        )
    )
    # A trace rather than add_hline: a shape's annotation on a log axis lands at 10^y and stretches the range.
    span = [float(np.nanmin(t)) / 3600, float(np.nanmax(t)) / 3600] if t.size else [0.0, 1.0]
    fig.add_trace(trace("scatter", x=span, y=[steady_current_a, steady_current_a], mode="lines", name="steady state I_ss",
                             line=dict(dash="dash", color="#c0392b"), hovertemplate="I_ss %{y:.3g} A<extra></extra>"))
    fig.update_layout(title=_title("Current during DC polarisation"), **_LAYOUT)
    fig.update_xaxes(title=dict(text="Time (h)"))
    fig.update_yaxes(title=dict(text="Current (A)"), **LOG_AXIS)
    return fig


def ccd_figure(steps: Sequence[dict], *, unit_label: str = "mA/cm²") -> SiteFigure:
    """The current-density staircase of a CCD test against step number, the failing step marked."""
    fig = SiteFigure()
    numbers = [s["number"] for s in steps]
    densities = [s["current_density_ma_per_cm2"] for s in steps]
    fig.add_trace(trace("scatter", x=numbers, y=densities, mode="lines+markers", line=dict(shape="hv"), name="applied step",
                             hovertemplate=f"step %{{x}}<br>j %{{y:.3g}} {unit_label}<extra></extra>"))
    failed = [s for s in steps if s["failed"]]
    if failed:
        fig.add_trace(trace("scatter", x=[failed[0]["number"]], y=[failed[0]["current_density_ma_per_cm2"]], mode="markers",
                                 marker=dict(size=13, symbol="x", color="#c0392b"), name="failure (CCD)"))
    fig.update_layout(title=_title("Current-density steps"), **_LAYOUT)
    fig.update_xaxes(title=dict(text="Step number"), dtick=1 if len(steps) <= 20 else None)
    fig.update_yaxes(title=dict(text=f"Current density ({unit_label})"), rangemode="tozero")
    return fig
