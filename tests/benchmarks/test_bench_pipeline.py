"""End to end: spectra fitted by the analysis pipeline's standard protocols feed the benchmark entries."""
import math

import numpy as np
import pytest

from apps.analysis.eis.derived import K_B_EV_PER_K
from apps.analysis.models import Conductivity
from apps.benchmarks import services
from apps.benchmarks.models import BenchmarkEntry, Metric
from apps.measurements.models import ImpedanceSpectrum
from tests.factories import CellFactory, PressureStepFactory, SpectrumFactory

analysis = pytest.importorskip("apps.analysis.services")
pytestmark = pytest.mark.django_db

THICKNESS_CM, AREA_CM2 = 0.08, 0.785
EA_EV, SIGMA25 = 0.30, 5e-4


def sigma_at(t_c):
    t, t25 = t_c + 273.15, 298.15
    return SIGMA25 * (t25 / t) * math.exp(-EA_EV / K_B_EV_PER_K * (1 / t - 1 / t25))


def pellet_spectrum(r_ohm):
    """Bulk arc R‖CPE beyond nothing, then a blocking-electrode CPE: a clean pellet spectrum."""
    f = np.logspace(7, -1, 70)
    w = 2j * np.pi * f
    bulk = r_ohm / (1 + r_ohm * 2e-11 * w ** 0.95)
    electrode = 1 / (1e-6 * w ** 0.85)
    return f, 2.0 + bulk + electrode


def test_pipeline_fits_turn_into_sigma_and_activation_energy_entries():
    cell = CellFactory()
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10)
    for t in (25.0, 45.0, 65.0):
        r = THICKNESS_CM / (sigma_at(t) * AREA_CM2)
        f, z = pellet_spectrum(r)
        spectrum = SpectrumFactory(cell=cell, group=cell.group, temperature_c=t,
                                   data=ImpedanceSpectrum.pack(f, z), n_points=f.size,
                                   frequency_min_hz=f.min(), frequency_max_hz=f.max())
        analysis.analyse_spectrum(spectrum_id=spectrum.pk)
    analysis.fit_arrhenius_series(separator_id=cell.separator_id)
    services.recompute_entries(separator_ids=[cell.separator_id])
    sigma = BenchmarkEntry.objects.get(separator=cell.separator, cell=None, metric=Metric.SIGMA_25C_TOTAL)
    # The entry is the pipeline's own 25 °C conductivity (the engine's accuracy is tested with the engine).
    row = Conductivity.objects.get(spectrum__cell=cell, spectrum__temperature_c=25.0, kind="total")
    assert sigma.value == pytest.approx(row.conductivity_s_per_cm)
    assert sigma.details["conductivity_ids"] == [row.pk]
    assert BenchmarkEntry.objects.filter(separator=cell.separator, metric=Metric.ACTIVATION_ENERGY).exists()
    assert services.recompute_entries(separator_ids=[cell.separator_id]) == 0
