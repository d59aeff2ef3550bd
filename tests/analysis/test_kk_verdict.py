"""The stored Kramers–Kronig verdict: passed, failed, or not enough data to judge (and what a fit makes of it)."""
import importlib

import numpy as np
import pytest
from django.apps import apps as django_apps

from apps.analysis import services
from apps.analysis.eis.circuits import circuit_impedance
from apps.analysis.models import FitResult, KKVerdict, KramersKronigCheck
from apps.common import flags as flag_registry
from tests.analysis.synthetic import PELLET, PELLET_TRUTH, set_spectrum, spectrum_arrays
from tests.factories import SpectrumFactory


def _drifting(f, z, drift):
    """|Z| drifting by ``drift`` over the sweep (measured from high to low frequency): a KK violation."""
    progress = np.arange(f.size) / (f.size - 1)
    return z * (1 + drift * progress)


def _short_distorted_spectrum(cell):
    """22 points over 7 decades (3.1 per decade) with a 7 % drift: the issue's spectrum that passed."""
    f = np.logspace(6, -1, 22)
    z = _drifting(f, circuit_impedance(PELLET, PELLET_TRUTH, f), 0.07)
    return set_spectrum(SpectrumFactory(cell=cell, group=cell.group), f, z)


@pytest.mark.django_db
def test_short_distorted_spectrum_is_not_judged_and_never_passes(unit_cell):
    spectrum = _short_distorted_spectrum(unit_cell)
    check = services.validate_spectrum(spectrum_id=spectrum.pk)
    check.refresh_from_db()
    assert check.verdict == KKVerdict.INSUFFICIENT_DATA
    assert not check.passed and not check.failed and check.insufficient_data
    assert "not enough data to judge" in check.reason and "22 points" in check.reason
    assert len(check.residuals_real) == 22  # still computed, for the residual plot


@pytest.mark.django_db
def test_drifting_long_spectrum_is_stored_as_failed(unit_cell):
    f, z = spectrum_arrays(PELLET, PELLET_TRUTH, n=71)
    spectrum = set_spectrum(SpectrumFactory(cell=unit_cell, group=unit_cell.group), f, _drifting(f, z, 0.10))
    check = services.validate_spectrum(spectrum_id=spectrum.pk)
    assert (check.verdict, check.passed) == (KKVerdict.FAILED, False)
    assert "above the limit" in check.reason


@pytest.mark.django_db
def test_insufficient_data_gives_the_informative_flag_not_kk_failed(unit_cell):
    spectrum = _short_distorted_spectrum(unit_cell)
    services.analyse_spectrum(spectrum_id=spectrum.pk)
    fit = FitResult.objects.get(spectrum=spectrum)
    assert "kk_insufficient_data" in fit.flags and "kk_failed" not in fit.flags
    assert "22 points" in fit.derived["flag_details"]["kk_insufficient_data"]
    flag = flag_registry.get("kk_insufficient_data")
    assert flag.title == "Too few points to judge Kramers–Kronig consistency" and not flag.blocking


@pytest.mark.django_db
def test_migration_fills_the_verdict_from_passed(unit_cell):
    migration = importlib.import_module("apps.analysis.migrations.0008_kk_verdict_and_reason")
    common = {"n_elements": 5, "mu": 0.5, "max_abs_residual": 0.01, "threshold": 0.004, "engine_version": "old"}
    # Rows as they stand right after the column is added (its one-off default is "passed").
    good = KramersKronigCheck.objects.create(
        spectrum=SpectrumFactory(cell=unit_cell, group=unit_cell.group), passed=True, verdict="passed", **common)
    bad = KramersKronigCheck.objects.create(
        spectrum=SpectrumFactory(cell=unit_cell, group=unit_cell.group), passed=False, verdict="passed", **common)
    migration.verdict_from_passed(django_apps, None)
    good.refresh_from_db(), bad.refresh_from_db()
    assert (good.verdict, bad.verdict) == (KKVerdict.PASSED, KKVerdict.FAILED)
