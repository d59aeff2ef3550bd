"""Plain-dict figures: the same JSON plotly's object model would write for what the plot modules use."""
import json

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from apps.common.plotly_figure import Figure, subplot_grid, trace


def _layout_without_template(fig) -> dict:
    layout = fig.to_plotly_json()["layout"]
    layout.pop("template", None)
    return layout


@pytest.mark.parametrize("grid", [
    dict(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08),
    dict(rows=1, cols=2, shared_yaxes=True, column_widths=[0.24, 0.76], horizontal_spacing=0.02,
         subplot_titles=("left", "right")),
    dict(rows=2, cols=2, horizontal_spacing=0.1, vertical_spacing=0.15),
])
def test_subplot_grid_lays_out_axes_as_make_subplots_does(grid):
    expected = _layout_without_template(make_subplots(**grid))
    rows, cols = grid.pop("rows"), grid.pop("cols")
    ours = subplot_grid(rows, cols, **grid)
    assert ours.keys() == expected.keys()
    for key, axis in expected.items():
        if key == "annotations":
            assert [(a["text"], round(a["x"], 9), a["y"]) for a in ours[key]] == \
                   [(a["text"], round(a["x"], 9), a["y"]) for a in axis]
        else:
            assert {k: v for k, v in ours[key].items() if k != "domain"} == {k: v for k, v in axis.items() if k != "domain"}
            assert ours[key]["domain"] == pytest.approx(axis["domain"])


def test_traces_on_grid_cells_name_their_axes_like_plotly():
    theirs = make_subplots(rows=2, cols=1, shared_xaxes=True)
    theirs.add_trace(go.Scatter(x=[1], y=[2]), row=2, col=1)
    ours = Figure(grid=subplot_grid(2, 1, shared_xaxes=True))
    ours.add_trace(trace("scatter", x=[1], y=[2]), row=2, col=1)
    assert (ours.data[0]["xaxis"], ours.data[0]["yaxis"]) == (theirs.data[0].xaxis, theirs.data[0].yaxis) == ("x2", "y2")


def test_updates_merge_nested_properties_and_none_removes_one():
    fig = Figure(layout={"legend": {"x": 0, "y": 1}})
    fig.update_layout(legend={"y": -0.2}, title={"text": "T"})
    fig.update_xaxes(type="log", dtick=1)
    fig.update_xaxes(dtick=None, title={"text": "f"})
    assert fig.layout["legend"] == {"x": 0, "y": -0.2}
    assert fig.layout["xaxis"] == {"type": "log", "title": {"text": "f"}}


def test_a_shared_layout_constant_is_not_changed_through_a_figure():
    shared = {"legend": {"x": 0}}
    Figure().update_layout(**shared).update_layout(legend={"x": 1})
    assert shared == {"legend": {"x": 0}}


def test_lines_match_plotlys_hline_and_vline():
    theirs = go.Figure(layout={"template": "none"})
    theirs.add_hline(y=5, line_dash="dot", line_color="#999")
    theirs.add_vline(x=3.3, line_dash="dot", line_color="#999", annotation_text="25 °C")
    ours = Figure().add_hline(5, line={"dash": "dot", "color": "#999"}).add_vline(
        3.3, line={"dash": "dot", "color": "#999"}, annotation_text="25 °C")
    expected = _layout_without_template(theirs)
    assert ours.layout == expected


def test_json_writes_nan_and_infinity_as_null_and_keeps_the_template():
    fig = Figure(trace("scatter", x=[1.0, float("nan"), 3.0], y=[float("inf"), 2.0, 3.0]))
    written = json.loads(fig.to_json(template={"layout": {"font": {"size": 12}}}))
    assert written["data"][0]["x"] == [1.0, None, 3.0] and written["data"][0]["y"] == [None, 2.0, 3.0]
    assert written["layout"]["template"] == {"layout": {"font": {"size": 12}}}
    assert "template" not in fig.layout
