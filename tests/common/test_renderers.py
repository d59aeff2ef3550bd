"""FiniteJSONRenderer: non-finite numbers read as null, everything else as DRF's JSON renders it."""
import json
import math

import pytest
from rest_framework.renderers import JSONRenderer

from apps.common.renderers import FiniteJSONRenderer


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_read_as_null(bad):
    data = {"fit": {"chi_square": bad, "parameters": [1.0, (2.0, bad)]}, "n": 3}
    assert json.loads(FiniteJSONRenderer().render(data)) == {"fit": {"chi_square": None, "parameters": [1.0, [2.0, None]]}, "n": 3}


def test_finite_answers_render_as_drf_renders_them():
    data = {"results": [{"id": 1, "label": "25 °C", "values": (1.5, 2.5e-9), "nested": {"ok": True, "none": None}}]}
    assert FiniteJSONRenderer().render(data) == JSONRenderer().render(data)
