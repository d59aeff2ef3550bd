"""Residual arrays and correlations are not stored: a fit's come back from its parameters and its spectrum, a Kramers–Kronig
check's from the test run again with its number of elements; both equal what the engine returned."""
import numpy as np
import pytest

from apps.analysis import protocols, services
from apps.analysis.eis import fit_circuit, kramers_kronig_test, parse_circuit
from apps.analysis.eis.interpretation import canonical_order
from apps.analysis.models import FitResult, FitStatus, KramersKronigCheck
from tests.analysis.synthetic import PELLET, PELLET_TRUTH, set_spectrum, spectrum_arrays
from tests.factories import CellFactory, FitProtocolFactory, SpectrumFactory


def _noisy_pellet(cell):
    spectrum = SpectrumFactory(cell=cell, group=cell.group)
    return set_spectrum(spectrum, *spectrum_arrays(PELLET, PELLET_TRUTH, noise=0.003, seed=3))


@pytest.mark.django_db
def test_fit_residuals_and_correlations_are_the_engines_inside_the_window():
    spectrum = _noisy_pellet(CellFactory())
    protocol = FitProtocolFactory(circuit=PELLET, frequency_max_hz=1e5, element_roles={})
    fit = services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk)
    assert fit.status == FitStatus.SUCCEEDED
    engine = fit_circuit(spectrum.frequencies_hz, spectrum.impedance_ohm, parse_circuit(PELLET),
                         weighting=protocol.weighting, frequency_window_hz=(0.0, 1e5))
    stored = FitResult.objects.get(pk=fit.pk)
    inside = int((spectrum.frequencies_hz <= 1e5).sum())
    assert inside < spectrum.n_points and len(stored.residuals_real) == inside
    np.testing.assert_allclose(stored.residuals_real, engine.residuals_real, atol=1e-7)
    np.testing.assert_allclose(stored.residuals_imag, engine.residuals_imag, atol=1e-7)
    perm = canonical_order(parse_circuit(PELLET), engine.parameters)  # stored in the canonical numbering
    np.testing.assert_allclose(np.array(stored.correlations, float), engine.correlations[np.ix_(perm, perm)],
                               atol=1e-6)
    rms = np.sqrt(np.mean(np.square([*stored.residuals_real, *stored.residuals_imag])))
    assert stored.derived["rms_relative_residual"] == pytest.approx(rms, rel=1e-4)


@pytest.mark.django_db
def test_failed_fit_has_no_residuals():
    spectrum = _noisy_pellet(CellFactory())
    fit = FitResult.objects.create(spectrum=spectrum, protocol=FitProtocolFactory(), status=FitStatus.FAILED,
                                   error="no", engine_version="test")
    assert fit.residuals_real == [] and fit.residuals_imag == [] and fit.correlations == []


@pytest.mark.django_db
def test_kramers_kronig_residuals_are_the_tests_residuals():
    spectrum = _noisy_pellet(CellFactory())
    check = services.validate_spectrum(spectrum_id=spectrum.pk)
    f, z = spectrum.frequencies_hz, spectrum.impedance_ohm
    direct = kramers_kronig_test(f, z, add_capacitance=protocols.has_capacitive_tail(f, z))
    stored = KramersKronigCheck.objects.get(pk=check.pk)
    assert stored.n_elements == direct.m
    np.testing.assert_allclose(stored.residuals_real, direct.residuals_real, atol=1e-12)
    np.testing.assert_allclose(stored.residuals_imag, direct.residuals_imag, atol=1e-12)
    assert max(np.abs([*stored.residuals_real, *stored.residuals_imag])) == pytest.approx(stored.max_abs_residual)


@pytest.mark.django_db
def test_held_parameter_of_a_hand_fit_has_no_correlations():
    spectrum = _noisy_pellet(CellFactory())
    protocol = FitProtocolFactory(circuit=PELLET, element_roles={})
    held = {"R1": PELLET_TRUTH["R1"] * 1.05}
    fit = services.fit_spectrum(spectrum_id=spectrum.pk, protocol_id=protocol.pk, fixed=held)
    engine = fit_circuit(spectrum.frequencies_hz, spectrum.impedance_ohm, parse_circuit(PELLET),
                         weighting=protocol.weighting, fixed=held)
    stored = FitResult.objects.get(pk=fit.pk)
    assert stored.parameters["R1"] == held["R1"] and stored.stderr["R1"] == 0
    perm = canonical_order(parse_circuit(PELLET), engine.parameters)
    expected = engine.correlations[np.ix_(perm, perm)]
    got = np.array(stored.correlations, float)  # null (held) reads back as NaN
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], atol=1e-6)
