"""The one flag registry: every code written anywhere is defined there with a title and a severity."""
import re
from pathlib import Path

import pytest

from apps.common import flags

APPS = Path(__file__).resolve().parents[2] / "apps"

#: How a flag code is written in the apps: appended to a flag list, a key of a flags/details dict,
#: a code of a `Flag(...)` definition, or a value of the stored-fit-flag mapping.
WRITES = (
    re.compile(r"flags\.append\(\s*\"([a-z_]+)\"\s*\)"),
    re.compile(r"flags\[\s*\"([a-z_]+)\"\s*\]\s*="),
    re.compile(r"\{\s*\"([a-z_]+)\"\s*:\s*f?\"spectrum[ {]"),  # a note naming the spectrum
    re.compile(r"Flag\(\s*\"([a-z_]+)\""),
    re.compile(r"return \{\"([a-z_]+)\": f\""),
)


def _written_codes() -> set[str]:
    codes = set()
    for path in APPS.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        for pattern in WRITES:
            codes.update(pattern.findall(text))
    return codes


def test_the_scan_finds_the_flags_of_both_apps():
    codes = _written_codes()
    # Guards the scan itself: codes written by the interpretation, the benchmark metrics and flags.
    assert {"parameter_unidentifiable", "temperature_unknown", "implausible_for_family", "extrapolated",
            "no_pressure_history", "points_left_out", "kk_failed"} <= codes


def test_every_flag_code_written_in_the_apps_is_registered_with_title_and_severity():
    registered = flags.registered()
    missing = sorted(_written_codes() - set(registered))
    assert not missing, f"flag codes written but not in the registry: {missing}"
    for code in _written_codes():
        flag = registered[code]
        assert flag.title and flag.title != code and flag.explanation
        assert flag.severity in (flags.BLOCKS_LEADERBOARD, flags.INFORMATIVE)


@pytest.mark.parametrize("code, blocking", [
    ("kk_failed", True), ("poor_fit", True), ("parameter_at_bound", True), ("resistance_unidentifiable", True),
    ("temperature_unknown", True), ("implausible_for_family", True), ("parameter_unidentifiable", False),
    ("not_converged", False), ("extrapolated", False), ("points_left_out", False),
])
def test_severity_of_the_flags(code, blocking):
    assert flags.is_blocking(code) is blocking


def test_unknown_code_reads_as_words_and_never_blocks():
    assert flags.get("some_new_code").title == "Some new code"
    assert not flags.is_blocking("some_new_code")
    assert flags.describe(["extrapolated", "kk_failed"]) == [
        {"code": "extrapolated", "title": "Extrapolated to 25 °C", "severity": "informative"},
        {"code": "kk_failed", "title": "Kramers–Kronig test failed", "severity": "blocks_leaderboard"},
    ]


def test_a_code_cannot_be_registered_twice_with_another_meaning():
    known = flags.get("kk_failed")
    flags.register_flags(known)  # the same definition again is harmless
    with pytest.raises(ValueError, match="registered twice"):
        flags.register_flags(flags.Flag("kk_failed", "Other", "Other meaning.", flags.INFORMATIVE))
    with pytest.raises(ValueError, match="severity"):
        flags.Flag("x", "X", "Why.", "fatal")
