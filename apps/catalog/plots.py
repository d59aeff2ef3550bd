"""Plotly figures of separators, cells and interfaces (Arrhenius, pressure history, interfacial resistance)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apps.common.formatting import QUANTITIES, format_quantity
from apps.common.plotly_figure import trace
from apps.measurements.plots import _LAYOUT, MAX_TRACES, SiteFigure, _title, message_figure

K_B_EV_PER_K = 8.617333262e-5
KELVIN = 273.15
#: σ is drawn in its display unit (mS/cm), as the pages print it.
SIGMA_SCALE = QUANTITIES["conductivity"].scale


@dataclass
class ArrheniusSeries:
    """Points (temperature °C, σ S/cm, σ stderr S/cm or None) and an optional fitted line."""

    label: str
    points: list[tuple[float, float, float | None]]
    form: str = ""  # "sigma_t", "sigma" or "vtf"
    activation_energy_ev: float | None = None
    prefactor: float | None = None
    vtf_b_k: float | None = None
    vtf_t0_k: float | None = None
    line_label: str = ""
    show_points: bool = True  # False: a second model line over points another series already draws


def arrhenius_line_s_per_cm(series: ArrheniusSeries, temperatures_c: np.ndarray) -> np.ndarray | None:
    """σ(T) of the fitted model.

    σT = A·exp(−Ea/kT) → σ = (A/T)·exp(−Ea/kT); σ = σ0·exp(−Ea/kT);
    VTF: σ = A·T^(−1/2)·exp(−B/(T − T0)).
    """
    t_k = np.asarray(temperatures_c, dtype=float) + KELVIN
    if series.form == "sigma_t" and series.activation_energy_ev is not None and series.prefactor:
        return series.prefactor / t_k * np.exp(-series.activation_energy_ev / (K_B_EV_PER_K * t_k))
    if series.form == "sigma" and series.activation_energy_ev is not None and series.prefactor:
        return series.prefactor * np.exp(-series.activation_energy_ev / (K_B_EV_PER_K * t_k))
    if series.form == "vtf" and series.prefactor and series.vtf_b_k is not None and series.vtf_t0_k is not None:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return series.prefactor * t_k**-0.5 * np.exp(-series.vtf_b_k / (t_k - series.vtf_t0_k))
    return None


def arrhenius_figure(series_list: Sequence[ArrheniusSeries], *, title: str = "Arrhenius") -> SiteFigure:
    """log σ against 1000/T (K⁻¹), with 25 °C marked; each series' fit drawn over its measured range."""
    series_list = [s for s in series_list if s.points][:MAX_TRACES]
    if not series_list:
        return message_figure("No conductivities yet: they appear once the spectra are fitted.", title)
    fig = SiteFigure()
    all_sigma: list[float] = []
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    for i, s in enumerate(series_list):
        colour = palette[i % len(palette)]
        t = np.array([p[0] for p in s.points], dtype=float)
        sigma = np.array([p[1] for p in s.points], dtype=float)
        err = np.array([p[2] if len(p) > 2 and p[2] is not None else 0.0 for p in s.points], dtype=float)
        all_sigma.extend(float(v) * SIGMA_SCALE for v in sigma if v > 0)
        if s.show_points:
            fig.add_trace(
                trace(
                    "scatter",
                    x=(1000.0 / (t + KELVIN)).tolist(),
                    y=(sigma * SIGMA_SCALE).tolist(),
                    # On a log axis a lower bar reaching zero would be infinite: stop it at 10 % of the value.
                    error_y=dict(type="data", array=(err * SIGMA_SCALE).tolist(),
                                 arrayminus=(np.minimum(err, 0.9 * sigma) * SIGMA_SCALE).tolist(), visible=bool(err.any())),
                    mode="markers",
                    name=s.label,
                    marker=dict(color=colour, size=8),
                    text=[f"{format_quantity(ti, None, 'temperature')}<br>σ {format_quantity(si, ei or None, 'conductivity')}"
                          for ti, si, ei in zip(t, sigma, err)],
                    hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                )
            )
        t_line = np.linspace(min(t.min(), 25.0), max(t.max(), 25.0), 60)
        line = arrhenius_line_s_per_cm(s, t_line)
        if line is not None:
            fig.add_trace(
                trace(
                    "scatter",
                    x=(1000.0 / (t_line + KELVIN)).tolist(),
                    y=[float(v) * SIGMA_SCALE if np.isfinite(v) and v > 0 else None for v in line],
                    mode="lines",
                    name=s.line_label or f"{s.label} fit",
                    line=dict(color=colour, dash="dash" if s.show_points else "dot"),
                )
            )
    fig.add_vline(x=1000.0 / (25.0 + KELVIN), line=dict(color="#999", dash="dot"), annotation_text="25 °C")
    layout = {**_LAYOUT, "legend": dict(orientation="h", yanchor="top", y=-0.18, x=0), "margin": dict(l=60, r=20, t=50, b=60)}
    fig.update_layout(title=_title(title), **layout)
    fig.update_xaxes(title=dict(text="1000 / T (K⁻¹)"))
    fig.update_yaxes(title=dict(text=f"σ ({QUANTITIES['conductivity'].unit})"), type="log", exponentformat="power",
                     range=log_range(all_sigma))
    return fig


def log_range(values: Sequence[float], *, outlier_decades: float = 5.0, pad_decades: float = 0.4) -> list[float] | None:
    """log10 axis range covering the values, ignoring points more than `outlier_decades` from the median.

    One failed fit (σ off by many decades) must not flatten every other series to a line.
    """
    logs = np.log10([v for v in values if v > 0 and np.isfinite(v)])
    if logs.size == 0:
        return None
    median = float(np.median(logs))
    kept = logs[np.abs(logs - median) <= outlier_decades]
    return [float(kept.min()) - pad_decades, float(kept.max()) + pad_decades]


def pressure_history_figure(steps: Sequence) -> SiteFigure:
    """One cell's stack pressure through its ordered steps (see `pressure_histories_figure`)."""
    return pressure_histories_figure([("stack pressure", steps)], title="Stack-pressure history")


@dataclass(frozen=True)
class InterfacialPoint:
    label: str
    cell_label: str
    spectrum_id: int
    asr_ohm_cm2: float
    asr_stderr_ohm_cm2: float | None
    elapsed_time_h: float | None
    cycle_index: int | None
    stack_pressure_mpa: float | None


def interfacial_figure(points: Sequence[InterfacialPoint], *, x: str, title: str) -> SiteFigure:
    """Interfacial area-specific resistance (Ω·cm²) against `x` ("elapsed_time_h", "cycle_index" or "stack_pressure_mpa"), one trace per cell."""
    axis_titles = {
        "elapsed_time_h": "Time since assembly (h)",
        "cycle_index": "Cycle",
        "stack_pressure_mpa": "Stack pressure (MPa)",
    }
    usable = [p for p in points if getattr(p, x) is not None]
    if not usable:
        return message_figure(f"No fitted interfacial resistance with a recorded {axis_titles[x].split(' (')[0].lower()}.", title)
    fig = SiteFigure()
    by_cell: dict[str, list[InterfacialPoint]] = {}
    for p in usable:
        by_cell.setdefault(p.cell_label, []).append(p)
    for cell_label, cell_points in list(by_cell.items())[:MAX_TRACES]:
        cell_points.sort(key=lambda p: getattr(p, x))
        fig.add_trace(
            trace(
                "scatter",
                x=[getattr(p, x) for p in cell_points],
                y=[p.asr_ohm_cm2 for p in cell_points],
                error_y=dict(type="data", array=[p.asr_stderr_ohm_cm2 or 0.0 for p in cell_points]),
                # Against pressure the points are not a sequence; over time or cycles they are.
                mode="markers" if x == "stack_pressure_mpa" else "lines+markers",
                name=cell_label,
                text=[f"{p.label}<br>{format_quantity(p.asr_ohm_cm2, p.asr_stderr_ohm_cm2, 'asr')}" for p in cell_points],
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(title=_title(title), **_LAYOUT)
    fig.update_xaxes(title=dict(text=axis_titles[x]))
    fig.update_yaxes(title=dict(text="Interfacial ASR (Ω·cm²)"), rangemode="tozero")
    return fig


#: Histories longer than this are drawn in hours rather than minutes.
HOURS_ABOVE_MIN = 600.0


def _pressure_xy(steps: Sequence, timed: bool, minutes_per_unit: float) -> tuple[list[float], list[float], list[str]]:
    """Staircase of one history: over cumulative time when every step states its duration (in units of
    `minutes_per_unit`), else over step number (1, 2, …, each step held until the next)."""
    xs, ys, labels = [], [], []
    start = 0.0 if timed else 1.0
    for step in steps:
        end = start + (step.duration_min / minutes_per_unit if timed else 1.0)
        label = f"{step.get_phase_display()}: {format_quantity(step.pressure_mpa, None, 'pressure')}"
        if step.temperature_c is not None:
            label += f", {format_quantity(step.temperature_c, None, 'temperature')}"
        if step.duration_min is not None:
            label += f", {format_quantity(step.duration_min, None, 'duration_min')}"
        xs += [start, end]
        ys += [step.pressure_mpa, step.pressure_mpa]
        labels += [label, label]
        start = end
    return xs, ys, labels


def pressure_histories_figure(histories: Sequence[tuple[str, Sequence]], *, title: str = "Stack-pressure histories") -> SiteFigure:
    """Several cells' stack-pressure histories overlaid: pressure (MPa) against cumulative time (min, or h for
    histories longer than `HOURS_ABOVE_MIN`) when every step of every cell states its duration, else against
    whole step numbers."""
    histories = [(label, list(steps)) for label, steps in histories if steps][:MAX_TRACES]
    if not histories:
        return message_figure("No stack-pressure history recorded.", title)
    timed = all(s.duration_min is not None for _, steps in histories for s in steps)
    longest_min = max(sum(s.duration_min for s in steps) for _, steps in histories) if timed else 0.0
    minutes_per_unit, unit = (60.0, "h") if longest_min > HOURS_ABOVE_MIN else (1.0, "min")
    fig = SiteFigure()
    for label, steps in histories:
        xs, ys, labels = _pressure_xy(steps, timed, minutes_per_unit)
        fig.add_trace(trace("scatter", x=xs, y=ys, mode="lines+markers", name=label, text=labels,
                                 hovertemplate="%{text}<extra>%{fullData.name}</extra>"))
    fig.update_layout(title=_title(title), showlegend=len(histories) > 1, **_LAYOUT)
    if timed:
        fig.update_xaxes(title=dict(text=f"Cumulative time ({unit})"))
    else:
        fig.update_xaxes(title=dict(text="Step number"), tick0=1, dtick=1)
    fig.update_yaxes(title=dict(text="Stack pressure (MPa)"), rangemode="tozero")
    return fig
