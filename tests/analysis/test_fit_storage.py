"""A fit row stores its reading without what its parameters give back (``apps.analysis.fit_storage``): the
row is smaller, and every reader still sees the reading ``interpret_fit`` made, bit for bit."""
import json

import pytest

from apps.analysis import services
from apps.analysis.fit_storage import COMPACT_MARK, compact_derived, expand_derived
from apps.analysis.models import FitResult, FitStatus
from tests.analysis.synthetic import PELLET, PELLET_TRUTH, set_spectrum, spectrum_arrays
from tests.factories import CellFactory, FitProtocolFactory, SpectrumFactory

ROLES = {"R0": "series", "R1": "bulk", "CPE1": "bulk", "R2": "grain_boundary", "CPE2": "grain_boundary",
         "CPE3": "electrode"}


def _exact(value) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture
def fitted(db):
    cell = CellFactory()
    spectrum = set_spectrum(SpectrumFactory(cell=cell, group=cell.group),
                            *spectrum_arrays(PELLET, PELLET_TRUTH, noise=0.003, seed=3))
    protocol = FitProtocolFactory(circuit=PELLET, element_roles=ROLES)
    fit = services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk)
    assert fit.status == FitStatus.SUCCEEDED
    return fit


def test_fit_row_stores_no_number_its_parameters_give_back(fitted):
    stored = FitResult.objects.values_list("derived", flat=True).get(pk=fitted.pk)
    assert stored[COMPACT_MARK] is True and "cell_constant_per_cm" not in stored
    for entry in stored["elements"].values():
        assert not {"resistance_ohm", "resistance_stderr_ohm", "capacitance_f", "time_constant_s",
                    "apex_frequency_hz", "capacitance_normalised_f_per_cm"} & set(entry)
    # A kind made of one resistor names it; a sum keeps its value and its error from the covariance.
    assert stored["resistances_ohm"]["bulk"] == "R1"
    assert set(stored["resistances_ohm"]["total"]) == {"value", "stderr"}


def test_stored_fit_reads_back_the_reading_bit_for_bit(fitted):
    reloaded = FitResult.objects.get(pk=fitted.pk)
    assert COMPACT_MARK not in reloaded.derived
    assert _exact(reloaded.derived) == _exact(fitted.derived)
    assert reloaded.derived["elements"]["R1"]["resistance_ohm"] == reloaded.parameters["R1"]
    assert reloaded.derived["cell_constant_per_cm"] == reloaded.derived["thickness_cm"] / reloaded.derived["area_cm2"]


def test_fit_saved_again_stays_compact_and_equal(fitted):
    reloaded = FitResult.objects.get(pk=fitted.pk)
    reloaded.derived["flag_details"]["note"] = "read and written back"
    reloaded.save()
    stored = FitResult.objects.values_list("derived", flat=True).get(pk=fitted.pk)
    assert stored[COMPACT_MARK] is True and stored["flag_details"]["note"] == "read and written back"
    assert _exact(FitResult.objects.get(pk=fitted.pk).derived) == _exact(reloaded.derived)


def test_only_numbers_that_come_back_equal_are_left_out():
    parameters, stderr = {"R1": 100.0}, {"R1": 1.0}
    derived = {"elements": {"R1": {"role": "bulk", "resistance_ohm": 99.0, "resistance_stderr_ohm": 1.0}},
               "resistances_ohm": {"bulk": {"value": 99.0, "stderr": 1.0}}, "thickness_cm": None, "area_cm2": None,
               "cell_constant_per_cm": None}
    compact = compact_derived(derived, parameters, stderr)
    assert compact["elements"]["R1"] == {"role": "bulk", "resistance_ohm": 99.0}  # not the parameter: kept
    assert compact["resistances_ohm"]["bulk"] == {"value": 99.0, "stderr": 1.0}
    assert _exact(expand_derived(compact, parameters, stderr)) == _exact(derived)


def test_reading_that_would_not_come_back_whole_is_stored_as_it_is():
    # Without the error key the expansion would add it: the dict is stored untouched.
    derived = {"elements": {"R1": {"role": "bulk", "resistance_ohm": 100.0}}, "resistances_ohm": {}}
    assert compact_derived(derived, {"R1": 100.0}, {"R1": 1.0}) is derived


@pytest.mark.parametrize("derived", [{}, {"model_choice": {"chosen": "x"}}, None])
def test_dicts_without_elements_are_stored_as_they_are(derived):
    assert compact_derived(derived, {"R1": 1.0}, {}) is derived
    assert expand_derived(derived, {"R1": 1.0}, {}) is derived
