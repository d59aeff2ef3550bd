"""Every standard protocol's bounds are documented: physical limit or search range, and why."""
import importlib

import pytest

from apps.analysis.protocol_bounds import (
    PHYSICAL_LIMIT, SEARCH_RANGE, STANDARD_BOUND_REASONS, bound_notes, bound_policy, finding_text,
)

SHIPPED = importlib.import_module("apps.analysis.migrations.0003_standard_protocols").STANDARD_PROTOCOLS


@pytest.mark.parametrize("spec", SHIPPED, ids=[s["name"] for s in SHIPPED])
def test_every_shipped_bound_has_its_reason_and_kind(spec):
    notes = bound_notes(circuit=spec["circuit"], bounds=spec["bounds"], name=spec["name"], is_standard=True)
    assert {n["parameter"] for n in notes} == set(spec["bounds"]) == set(STANDARD_BOUND_REASONS[spec["name"]])
    for note in notes:  # every shipped bound is a CPE exponent: n ≥ something is a search range, n ≤ 1 physical
        assert (note["low_kind"], note["high_kind"]) == (SEARCH_RANGE, PHYSICAL_LIMIT), note
        assert f"n ≥ {note['low']:g} is a search range" in note["reason"]


def test_a_group_bound_at_the_physical_limit_is_called_so():
    (note,) = bound_notes(circuit="R0-p(R1,CPE1)", bounds={"CPE1_n": [0.0, 0.9]})
    assert (note["low_kind"], note["high_kind"]) == (PHYSICAL_LIMIT, SEARCH_RANGE)
    assert "Set by the protocol's group" in note["reason"]


def test_standard_fits_release_and_group_fits_report():
    assert (bound_policy(is_standard=True), bound_policy(is_standard=False)) == ("relax", "report")


def test_a_bound_that_costs_nothing_is_said_not_to_decide():
    text = finding_text({"parameter": "CPE1_n", "side": "lower", "bound": 0.6, "physical_limit": 0.0, "value": 0.6,
                         "value_relaxed": 0.6, "cost_at_bound": 1.0, "cost_relaxed": 1.0, "cost_ratio": 1.0,
                         "relaxed_fit_kept": False})
    assert text == ("CPE1_n was held at its lower bound 0.6, but releasing it does not lower the cost: "
                    "the bound does not decide the answer.")
