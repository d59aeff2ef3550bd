import pytest

from apps.common import titles


@pytest.mark.parametrize(
    "kind,code,expected",
    [
        ("flag", "kk_failed", "Kramers–Kronig test failed"),  # registered by analysis
        ("flag", "extrapolated", "Extrapolated to 25 °C"),  # registered by benchmarks
        ("role", "grain_boundary", "Grain boundary"),
        ("flag", "some_new_code", "Some new code"),  # unregistered: words, never the bare code
        ("role", "", ""),
        ("role", None, ""),
    ],
)
def test_title_of_a_code(kind, code, expected):
    assert titles.title(kind, code) == expected
