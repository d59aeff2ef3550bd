"""Plotly figures as plain dicts, for the pages' plots.

Building figures through plotly's object model (`plotly.graph_objects`) validates every property of every
trace, and a subplot grid or a template costs more again: over a second for a compare page of six spectra.
The pages only hand the figure's JSON to plotly.js, which validates nothing either, so `Figure` here keeps
the little of the object model's interface the plot modules use (`add_trace`, `update_layout`,
`update_xaxes`, `add_hline` …) over the dicts plotly.js reads, and `subplot_grid` lays out axes the way
`plotly.subplots.make_subplots` does. No Django: plain Python and the JSON plotly.js draws.
"""
from __future__ import annotations

import json
import math
from typing import Any


def merge(target: dict, update: dict) -> dict:
    """`update` merged into `target` in place, nested dicts merged key by key (as plotly's `update_*` do);
    a None value removes the key, as it does in plotly."""
    for key, value in update.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = _plain(value)
    return target


def _plain(value: Any) -> Any:
    """Dicts copied (so a shared layout constant is never changed through a figure), None entries dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple):
        return list(value)
    return value


def trace(kind: str, **properties: Any) -> dict:
    """A plotly.js trace of type `kind` ("scatter", "scattergl", "bar" …); None properties are left out."""
    return {"type": kind, **_plain(properties)}


def _axis_names(letter: str, index: int) -> tuple[str, str]:
    """('xaxis2', 'x2') for index 2; ('xaxis', 'x') for index 1."""
    suffix = "" if index == 1 else str(index)
    return f"{letter}axis{suffix}", f"{letter}{suffix}"


def subplot_grid(rows: int, cols: int, *, shared_xaxes: bool = False, shared_yaxes: bool = False,
                 vertical_spacing: float = 0.3, horizontal_spacing: float = 0.2,
                 column_widths: list[float] | None = None, row_heights: list[float] | None = None,
                 subplot_titles: tuple[str, ...] = ()) -> dict:
    """Layout of a rows × cols grid of axes as `make_subplots` writes it: cell (r, c) owns axis number
    (r − 1)·cols + c; shared x axes follow the bottom row's and hide their tick labels, shared y axes follow
    the first column's; titles sit centred above their cell (row by row)."""
    widths = column_widths or [1.0] * cols
    heights = row_heights or [1.0] * rows
    free_x = 1.0 - horizontal_spacing * (cols - 1)
    free_y = 1.0 - vertical_spacing * (rows - 1)
    x_domains, start = [], 0.0
    for width in widths:
        end = start + free_x * width / sum(widths)
        x_domains.append([start, end])
        start = end + horizontal_spacing
    y_domains, top = [], 1.0  # row 1 at the top
    for height in heights:
        bottom = top - free_y * height / sum(heights)
        y_domains.append([max(bottom, 0.0), top])
        top = bottom - vertical_spacing
    layout: dict = {}
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            n = (r - 1) * cols + c
            x_key, x_ref = _axis_names("x", n)
            y_key, y_ref = _axis_names("y", n)
            x_axis = {"anchor": y_ref, "domain": _rounded(x_domains[c - 1])}
            y_axis = {"anchor": x_ref, "domain": _rounded(y_domains[r - 1])}
            if shared_xaxes and r < rows:
                x_axis.update(matches=_axis_names("x", (rows - 1) * cols + c)[1], showticklabels=False)
            if shared_yaxes and c > 1:
                y_axis.update(matches=_axis_names("y", (r - 1) * cols + 1)[1], showticklabels=False)
            layout[x_key], layout[y_key] = x_axis, y_axis
    if subplot_titles:
        layout["annotations"] = [
            {"font": {"size": 16}, "showarrow": False, "text": text, "x": sum(x_domains[i % cols]) / 2,
             "xanchor": "center", "xref": "paper", "y": y_domains[i // cols][1], "yanchor": "bottom", "yref": "paper"}
            for i, text in enumerate(subplot_titles) if text
        ]
    return layout


def _rounded(domain: list[float]) -> list[float]:
    return [round(v, 10) for v in domain]


class Figure:
    """A plotly.js figure (`data`: trace dicts, `layout`: a dict) with the few plotly `Figure` methods the
    plot modules use. `grid` (from `subplot_grid`) gives it subplots, addressed by `row` and `col`."""

    def __init__(self, data: list[dict] | dict | None = None, layout: dict | None = None, *, grid: dict | None = None,
                 cols: int = 1):
        self.data: list[dict] = [data] if isinstance(data, dict) else list(data or [])
        self.layout: dict = merge({}, grid or {})
        self._cols = cols
        merge(self.layout, layout or {})

    def _axis_number(self, row: int | None, col: int | None) -> int | None:
        return None if row is None else (row - 1) * self._cols + (col or 1)

    def add_trace(self, trace_dict: dict, *, row: int | None = None, col: int | None = None) -> Figure:
        n = self._axis_number(row, col)
        if n is not None:
            trace_dict = {**trace_dict, "xaxis": _axis_names("x", n)[1], "yaxis": _axis_names("y", n)[1]}
        self.data.append(trace_dict)
        return self

    def update_layout(self, **properties: Any) -> Figure:
        merge(self.layout, properties)
        return self

    def _update_axes(self, letter: str, properties: dict, row: int | None, col: int | None) -> Figure:
        n = self._axis_number(row, col)
        keys = [_axis_names(letter, n)[0]] if n is not None else (
            sorted(k for k in self.layout if k.startswith(f"{letter}axis")) or [f"{letter}axis"])
        for key in keys:
            merge(self.layout.setdefault(key, {}), properties)
        return self

    def update_xaxes(self, *, row: int | None = None, col: int | None = None, **properties: Any) -> Figure:
        return self._update_axes("x", properties, row, col)

    def update_yaxes(self, *, row: int | None = None, col: int | None = None, **properties: Any) -> Figure:
        return self._update_axes("y", properties, row, col)

    def add_annotation(self, **properties: Any) -> Figure:
        self.layout.setdefault("annotations", []).append(_plain(properties))
        return self

    def add_hline(self, y: float, *, line: dict) -> Figure:
        """A horizontal line across the whole plot at `y` (as plotly's `add_hline`)."""
        self.layout.setdefault("shapes", []).append(
            {"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": y, "y1": y, "yref": "y", "line": dict(line)})
        return self

    def add_vline(self, x: float, *, line: dict, annotation_text: str = "") -> Figure:
        """A vertical line over the whole height at `x`, labelled at its top right (as plotly's `add_vline`)."""
        self.layout.setdefault("shapes", []).append(
            {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain", "line": dict(line)})
        if annotation_text:
            self.add_annotation(showarrow=False, text=annotation_text, x=x, xanchor="left", xref="x", y=1,
                                yanchor="top", yref="y domain")
        return self

    def to_plotly_json(self) -> dict:
        return {"data": self.data, "layout": self.layout}

    def to_json(self, template: dict | None = None) -> str:
        """The figure as the JSON plotly.js reads, with `template` as its layout template when given;
        NaN and ±∞ become null (plotly.js draws a gap there)."""
        layout = {**self.layout, "template": template} if template is not None else self.layout
        return dumps({"data": self.data, "layout": layout})


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return _number(value)


def _number(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (the plot modules mostly pass those already)."""
    item = getattr(value, "tolist", None)
    return _finite_or_none(item()) if item is not None else value


def dumps(figure: dict) -> str:
    """JSON of a figure dict; the fast path assumes finite floats and falls back to cleaning when not."""
    try:
        return json.dumps(figure, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_number)
    except ValueError:  # a NaN or an infinity somewhere
        return json.dumps(_finite_or_none(figure), ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=_number)
