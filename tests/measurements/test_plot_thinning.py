"""Plot payloads of long spectra are thinned to MAX_POINTS_PER_TRACE per trace, keeping the frequency extremes."""
import json

import numpy as np
import pytest

from apps.measurements import plots


@pytest.mark.parametrize("n", [10, plots.MAX_POINTS_PER_TRACE, 20_000])
def test_every_trace_is_bounded_and_keeps_both_frequency_ends(n):
    rng = np.random.default_rng(5)
    f = np.logspace(6, -2, n)
    order = rng.permutation(n)  # a sweep in any order: the extremes need not be the first and last points
    f = f[order]
    z = 10 + 1000 / (1 + 1j * 2 * np.pi * f * 1e-6)
    figure = json.loads(plots.figure_json(plots.bode_figure([("s", f, z)])))
    for trace in figure["data"]:
        x = trace["x"]
        assert len(x) <= plots.MAX_POINTS_PER_TRACE + 2
        assert len(x) == n if n <= plots.MAX_POINTS_PER_TRACE else len(x) >= plots.MAX_POINTS_PER_TRACE - 1
        assert min(x) == pytest.approx(1e-2) and max(x) == pytest.approx(1e6)
    nyquist = json.loads(plots.figure_json(plots.nyquist_figure([("s", f, z)])))
    hover = nyquist["data"][0]["text"]  # one hover line per point drawn, naming its frequency
    assert len(hover) == len(nyquist["data"][0]["x"]) <= plots.MAX_POINTS_PER_TRACE + 2
    assert any(line.endswith("f 1 MHz") for line in hover) and any(line.endswith("f 10 mHz") for line in hover)
