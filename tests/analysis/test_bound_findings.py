"""Protocol bounds that hold a fit parameter: released for a standard protocol, reported for a group's own,
stored in ``derived["bound_findings"]`` and flagged ``parameter_held_by_bound`` with the cost released."""
import pytest

from apps.analysis import services
from apps.analysis.models import FitResult
from apps.common import flags as flag_registry
from tests.analysis.synthetic import set_spectrum, spectrum_arrays
from tests.factories import FitProtocolFactory, SpectrumFactory

# A Li/Cu-like interface: an arc with n = 0.3 (a porous interphase) under the protocols' n ≥ 0.4.
INTERFACE = "R0-p(R1,CPE1)"
INTERFACE_TRUTH = {"R0": 5.0, "R1": 200.0, "CPE1_Q": 1e-4, "CPE1_n": 0.3}
ROLES = {"R0": "total", "R1": "interface", "CPE1": "interface"}


def _fit(cell, *, is_standard):
    f, z = spectrum_arrays(INTERFACE, INTERFACE_TRUTH, f_max_hz=1e6, f_min_hz=1e-2, n=81, noise=0.002)
    spectrum = set_spectrum(SpectrumFactory(cell=cell, group=cell.group), f, z)
    protocol = FitProtocolFactory(
        circuit=INTERFACE, element_roles=ROLES, bounds={"CPE1_n": [0.4, 1.0]}, is_standard=is_standard,
        group=None if is_standard else cell.group,
    )
    return services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk)


@pytest.mark.django_db
def test_standard_fit_releases_a_search_range_bound_and_keeps_the_relaxed_fit(unit_cell):
    fit = FitResult.objects.get(pk=_fit(unit_cell, is_standard=True).pk)
    assert fit.parameters["CPE1_n"] == pytest.approx(0.3, abs=0.01)
    assert fit.parameters["R1"] == pytest.approx(200.0, rel=0.05)
    (finding,) = fit.derived["bound_findings"]
    assert (finding["parameter"], finding["side"], finding["bound"], finding["physical_limit"]) == ("CPE1_n", "lower", 0.4, 0.0)
    assert finding["relaxed_fit_kept"] and finding["value"] == pytest.approx(0.3, abs=0.01)
    assert finding["cost_ratio"] > 3 and finding["cost_at_bound"] > 3 * finding["cost_relaxed"]
    assert "parameter_held_by_bound" in fit.flags
    assert "parameter_at_bound" not in fit.flags  # released to the physical limit n ≥ 0, it is not at a bound
    note = fit.derived["flag_details"]["parameter_held_by_bound"]
    assert "CPE1_n was held at its lower bound 0.4" in note and "the relaxed fit is the one stored" in note


@pytest.mark.django_db
def test_group_protocol_keeps_its_bound_and_says_what_it_costs(unit_cell):
    fit = FitResult.objects.get(pk=_fit(unit_cell, is_standard=False).pk)
    assert fit.parameters["CPE1_n"] == pytest.approx(0.4, abs=1e-6)
    (finding,) = fit.derived["bound_findings"]
    assert not finding["relaxed_fit_kept"] and finding["value_relaxed"] == pytest.approx(0.3, abs=0.01)
    assert finding["cost_ratio"] > 3
    # The bounded fit is stored while free bounds reach a much lower cost: the at-bound flag blocks it.
    assert {"parameter_held_by_bound", "parameter_at_bound"} <= set(fit.flags)
    assert flag_registry.is_blocking("parameter_at_bound") and not flag_registry.is_blocking("parameter_held_by_bound")
    assert "the protocol's bounded fit is stored" in fit.derived["flag_details"]["parameter_held_by_bound"]


@pytest.mark.django_db
def test_no_finding_when_the_data_sit_inside_the_bounds(unit_cell):
    f, z = spectrum_arrays(INTERFACE, {**INTERFACE_TRUTH, "CPE1_n": 0.8}, f_max_hz=1e6, f_min_hz=1e-2, n=81)
    spectrum = set_spectrum(SpectrumFactory(cell=unit_cell, group=unit_cell.group), f, z)
    protocol = FitProtocolFactory(circuit=INTERFACE, element_roles=ROLES, bounds={"CPE1_n": [0.4, 1.0]}, is_standard=True)
    fit = services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk)
    assert "bound_findings" not in fit.derived and "parameter_held_by_bound" not in fit.flags
