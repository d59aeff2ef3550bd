"""Plotly figures of the benchmarks dashboard, built server-side.

Every point of the database carries its record URL in `customdata[0]`; the
page's `plotly_click` handler opens it. Literature values are drawn in grey in
their own panel sharing the conductivity axis, marked as reported, not re-fitted.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from apps.catalog.models import MaterialFamily, ProcessingRoute
from apps.common.formatting import QUANTITIES, format_interval, format_many, format_quantity, format_unit_value
from apps.common.plotly_figure import subplot_grid, trace
from apps.common.templatetags.numbers import flag_title

from apps.measurements.plots import SiteFigure, log_axis_for

from .models import BenchmarkEntry, LiteratureValue, Metric

#: σ is drawn in its display unit (mS/cm), as the pages print it.
SIGMA_SCALE = QUANTITIES["conductivity"].scale

#: The site's template is added to the JSON (apps.measurements.plots.SiteFigure).
LAYOUT = dict(
    margin=dict(l=70, r=20, t=50, b=55),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    hovermode="closest",
)
FAMILY_COLOURS = {
    MaterialFamily.GARNET: "#1f77b4",
    MaterialFamily.NASICON: "#ff7f0e",
    MaterialFamily.PEROVSKITE: "#2ca02c",
    MaterialFamily.ARGYRODITE: "#d62728",
    MaterialFamily.THIOPHOSPHATE: "#9467bd",
    MaterialFamily.HALIDE: "#8c564b",
    MaterialFamily.HYDRIDE: "#e377c2",
    MaterialFamily.POLYMER: "#17becf",
    MaterialFamily.OTHER: "#7f7f7f",
    "": "#444444",
}
ROUTE_SYMBOLS = {
    ProcessingRoute.COLD_PRESSING: "circle",
    ProcessingRoute.HOT_PRESSING: "square",
    ProcessingRoute.SINTERING: "diamond",
    ProcessingRoute.SPARK_PLASMA_SINTERING: "star",
    ProcessingRoute.TAPE_CASTING: "triangle-up",
    ProcessingRoute.SOLUTION_CASTING: "triangle-down",
    ProcessingRoute.WET_INFILTRATION: "pentagon",
    ProcessingRoute.DRY_MIXING: "hexagon",
    ProcessingRoute.THIN_FILM_DEPOSITION: "cross",
    ProcessingRoute.PATTERNING: "x",
    ProcessingRoute.OTHER: "circle-open",
    "": "circle-open",
}
LITERATURE_GREY = "rgba(150,150,150,0.45)"
#: Above this many points a trace switches to WebGL.
GL_THRESHOLD = 1500


def _family_label(family: str) -> str:
    return MaterialFamily(family).label if family in MaterialFamily.values else "Unknown family"


def _route_of(entry: BenchmarkEntry) -> str:
    return entry.separator.processing_route if entry.separator_id else ""


def _doi_of(entry: BenchmarkEntry) -> str:
    record = entry.cell if entry.cell_id else entry.separator
    source = record.source if record is not None and record.source_id else None
    if source is None and entry.separator_id and entry.separator.source_id:
        source = entry.separator.source
    return source.doi if source is not None and source.doi else "no DOI"


def _error_bars(entries, *, scale: float = 1.0) -> dict | None:
    """95 % CI bars; `scale` converts the stored unit to the axis's display unit."""
    plus = [(e.ci_high - e.value) * scale if e.ci_high is not None else None for e in entries]
    minus = [(e.value - e.ci_low) * scale if e.ci_low is not None else None for e in entries]
    if all(p is None for p in plus):
        return None
    return dict(type="data", symmetric=False, array=[p or 0 for p in plus], arrayminus=[m or 0 for m in minus],
                thickness=1, width=2)


def _hover(entry: BenchmarkEntry, percentiles: dict[int, float | None]) -> str:
    subject = entry.cell or entry.separator
    ci = (f"95 % CI {format_interval(entry.ci_low, entry.ci_high, entry.stderr, entry.unit)}"
          if entry.ci_low is not None and entry.ci_high is not None else "no CI")
    flags = ", ".join(flag_title(code) for code in entry.flags) or "none"
    parts = [
        f"<b>{subject.name}</b> ({_family_label(entry.family)})",
        f"{entry.get_metric_display()}: {format_unit_value(entry.value, entry.stderr, entry.unit)} ({ci})",
        f"Source: {_doi_of(entry)}",
        f"Completeness: {entry.completeness_score:.0%}" + (
            f" — missing: {', '.join(entry.missing_items[:4])}{'…' if len(entry.missing_items) > 4 else ''}"
            if entry.missing_items else ""),
        f"Flags: {flags}",
    ]
    percentile = percentiles.get(entry.pk)
    if percentile is not None:
        parts.append(f"Above {percentile:.0f} % of published {_family_label(entry.family)} values")
    release = getattr(entry, "release", None)  # a released number names its release
    parts.append(f"Released in {release.label}" if release is not None else "Unreleased (live entry)")
    return "<br>".join(parts)


def _scatter(n: int) -> str:
    """The trace type: WebGL above `GL_THRESHOLD` points."""
    return "scattergl" if n > GL_THRESHOLD else "scatter"


def empty_figure(text: str, title: str) -> SiteFigure:
    fig = SiteFigure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    fig.update_layout(**LAYOUT, title=dict(text=title), xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def conductivity_figure(entries: list[BenchmarkEntry], literature: list[LiteratureValue], *,
                        urls: dict[int, str], percentiles: dict[int, float | None]) -> SiteFigure:
    """σ(25 °C) against separator thickness (log–log), colour = family, marker = route;
    left panel: reported literature values of the same families (grey, not re-fitted)."""
    fig = SiteFigure(grid=subplot_grid(1, 2, shared_yaxes=True, column_widths=[0.24, 0.76], horizontal_spacing=0.02,
                                       subplot_titles=("Reported (OBELiX, not re-fitted)", "This database (standard fits)")),
                     cols=2)
    by_family_lit: dict[str, list[LiteratureValue]] = defaultdict(list)
    for value in literature:
        by_family_lit[value.family].append(value)
    families = sorted(by_family_lit)
    rng = np.random.default_rng(0)  # fixed jitter: the page looks the same on every load
    for index, family in enumerate(families):
        values = by_family_lit[family]
        x = index + rng.uniform(-0.3, 0.3, len(values))
        fig.add_trace(
            trace(
                _scatter(len(values)), x=x.tolist(), y=[v.conductivity_s_per_cm * SIGMA_SCALE for v in values], mode="markers",
                name="Reported literature value", legendgroup="literature", showlegend=index == 0,
                marker=dict(color=LITERATURE_GREY, size=6),
                text=[f"{v.composition} ({v.family_reported or 'no family'})<br>"
                      f"{'< ' if v.is_upper_bound else ''}{format_quantity(v.conductivity_s_per_cm, None, 'conductivity')}, reported, not re-fitted"
                      f"<br>DOI {v.doi}" for v in values],
                hovertemplate="%{text}<extra>OBELiX</extra>",
            ),
            row=1, col=1,
        )
    fig.update_xaxes(tickvals=list(range(len(families))), ticktext=[_family_label(f) for f in families],
                     tickangle=-45, row=1, col=1, range=[-0.6, max(len(families), 1) - 0.4])

    groups: dict[tuple[str, str], list[BenchmarkEntry]] = defaultdict(list)
    for entry in entries:
        if entry.thickness_um:
            groups[(entry.family, _route_of(entry))].append(entry)
    seen_families = set()
    for (family, route), members in sorted(groups.items()):
        fig.add_trace(
            trace(
                _scatter(len(members)), x=[e.thickness_um for e in members], y=[e.value * SIGMA_SCALE for e in members], mode="markers",
                name=f"{_family_label(family)} · {ProcessingRoute(route).label if route else 'route not stated'}",
                legendgroup=family, showlegend=True,
                marker=dict(color=FAMILY_COLOURS.get(family, "#444"), symbol=ROUTE_SYMBOLS.get(route, "circle"),
                            size=11, line=dict(width=1, color="#222")),
                error_y=_error_bars(members, scale=SIGMA_SCALE),
                customdata=[[urls.get(e.pk, "")] for e in members],
                text=[_hover(e, percentiles) for e in members],
                hovertemplate="%{text}<extra></extra>",
            ),
            row=1, col=2,
        )
        seen_families.add(family)
    fig.update_xaxes(**log_axis_for(e.thickness_um for e in entries if e.thickness_um),
                     title=dict(text="Separator thickness (µm)"), row=1, col=2)
    # Both panels share one log σ axis: a linked axis left linear would draw the points at the wrong height.
    fig.update_yaxes(type="log", exponentformat="power")  # 10⁻³ mS/cm, not "1µ mS/cm"
    fig.update_yaxes(title=dict(text=f"σ at 25 °C ({QUANTITIES['conductivity'].unit})"), row=1, col=1)
    fig.update_layout(**{**LAYOUT, "legend": dict(orientation="v", x=1.02, y=1)},
                      title=dict(text="Total ionic conductivity at 25 °C against separator thickness"), height=560)
    return fig


def asr_ranking_figure(entries: list[BenchmarkEntry], *, urls: dict[int, str],
                       percentiles: dict[int, float | None], limit: int = 25) -> SiteFigure:
    """Separator area-specific resistance at the real thickness, lowest first (log scale)."""
    ranked = sorted(entries, key=lambda e: e.value)[:limit]
    if not ranked:
        return empty_figure("No separator ASR yet", "Separator area-specific resistance")
    labels = [f"{e.separator.name} ({format_quantity(e.thickness_um, None, 'thickness')})" if e.thickness_um else e.separator.name for e in ranked]
    fig = SiteFigure(trace(
        "bar", x=[e.value for e in ranked], y=labels, orientation="h",
        marker=dict(color=[FAMILY_COLOURS.get(e.family, "#444") for e in ranked],
                    pattern=dict(shape=["/" if e.blocking else "" for e in ranked])),
        error_x=_error_bars(ranked), customdata=[[urls.get(e.pk, "")] for e in ranked],
        text=[_hover(e, percentiles) for e in ranked], hovertemplate="%{text}<extra></extra>", textposition="none",
    ))
    fig.update_layout(**LAYOUT, title=dict(text="Separator ASR at its real thickness (lower is better; hatched = flagged)"),
                      height=max(320, 28 * len(ranked) + 120))
    fig.update_xaxes(type="log", title=dict(text="ASR (Ω·cm²)"))
    fig.update_yaxes(autorange="reversed")
    return fig


def interfacial_figure(entries: list[BenchmarkEntry], *, urls: dict[int, str],
                       percentiles: dict[int, float | None]) -> SiteFigure:
    """Interfacial ASR against the stack pressure it was measured at."""
    with_pressure = [e for e in entries if e.stack_pressure_mpa]
    if not with_pressure:
        return empty_figure("No interfacial ASR with a stated stack pressure yet",
                            "Interfacial ASR against stack pressure")
    fig = SiteFigure()
    by_family: dict[str, list[BenchmarkEntry]] = defaultdict(list)
    for e in with_pressure:
        by_family[e.family].append(e)
    for family, members in sorted(by_family.items()):
        fig.add_trace(trace(
            "scatter", x=[e.stack_pressure_mpa for e in members], y=[e.value for e in members], mode="markers",
            name=_family_label(family), marker=dict(color=FAMILY_COLOURS.get(family, "#444"), size=11),
            error_y=_error_bars(members), customdata=[[urls.get(e.pk, "")] for e in members],
            text=[_hover(e, percentiles) for e in members], hovertemplate="%{text}<extra></extra>",
        ))
    fig.update_layout(**LAYOUT, title=dict(text="Interfacial ASR against stack pressure (symmetric cells halved)"))
    fig.update_xaxes(type="log", title=dict(text="Stack pressure during measurement (MPa)"))
    fig.update_yaxes(type="log", title=dict(text="Interfacial ASR (Ω·cm²)"))
    return fig


def growth_figure(entries: list[BenchmarkEntry], *, urls: dict[int, str], limit: int = 20) -> SiteFigure:
    """ASR against cycle for every cell with a growth-per-cycle entry, with the fitted slope in the legend."""
    fig = SiteFigure()
    drawn = 0
    for e in sorted(entries, key=lambda e: -abs(e.value))[:limit]:
        x, y = e.details.get("x") or [], e.details.get("asr_ohm_cm2") or []
        if not x or len(x) != len(y):
            continue
        order = np.argsort(x)
        xs, ys = [x[i] for i in order], [y[i] for i in order]
        fig.add_trace(trace(
            "scatter", x=xs, y=ys, mode="lines+markers",
            name=f"{e.cell.name}: {format_unit_value(e.value, e.stderr, e.unit)}",
            line=dict(color=FAMILY_COLOURS.get(e.family, "#444")),
            customdata=[[urls.get(e.pk, "")]] * len(xs),
            text=format_many(ys, "asr"),
            hovertemplate=f"<b>{e.cell.name}</b><br>cycle %{{x}}: %{{text}}<br>"
                          f"completeness {e.completeness_score:.0%}<extra></extra>",
        ))
        drawn += 1
    if not drawn:
        return empty_figure("No impedance series over cycles yet", "Impedance growth against cycle")
    fig.update_layout(**{**LAYOUT, "legend": dict(orientation="v", x=1.02, y=1)},
                      title=dict(text="Impedance growth against cycle"))
    fig.update_xaxes(title=dict(text="Cycle"))
    fig.update_yaxes(title=dict(text="ASR (Ω·cm²)"))
    return fig


def dashboard_figures(entries: list[BenchmarkEntry], literature: list[LiteratureValue], *, urls: dict[int, str],
                      percentiles: dict[int, float | None]) -> dict[str, SiteFigure]:
    """The dashboard's four figures from the filtered entries: σ(25 °C) against the literature, separator
    ASR ranking, interfacial ASR, and impedance growth per cycle."""
    by_metric: dict[str, list] = {}
    for entry in entries:
        by_metric.setdefault(entry.metric, []).append(entry)
    return {
        "conductivity": conductivity_figure(by_metric.get(Metric.SIGMA_25C_TOTAL, []), literature, urls=urls,
                                            percentiles=percentiles),
        "asr": asr_ranking_figure(by_metric.get(Metric.SEPARATOR_ASR, []), urls=urls, percentiles=percentiles),
        "interfacial": interfacial_figure(by_metric.get(Metric.INTERFACIAL_ASR, []), urls=urls,
                                          percentiles=percentiles),
        "growth": growth_figure(by_metric.get(Metric.IMPEDANCE_GROWTH_PER_CYCLE, []), urls=urls),
    }


def figure_points(fig: SiteFigure) -> int:
    """Number of plotted points (for tests and the page's empty-state text)."""
    return sum(len(t.get("y") or ()) for t in fig.data)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
