"""The load_demo command: idempotent, queues analysis once, tolerates a missing folder; the physics helpers."""
import math

import numpy as np
import pytest
from django.apps import apps
from django.core.management import call_command

from apps.analysis.eis.derived import effective_capacitance_rq
from apps.jobs.models import Job
from apps.catalog import demo
from apps.measurements.models import ImpedanceSpectrum, RawFile

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}

def test_loading_twice_creates_nothing_twice(instrument_files):
    call_command("load_demo", "--analyse", "none", "--instrument-files", str(instrument_files), verbosity=0)
    before = _counts()
    call_command("load_demo", "--analyse", "none", "--instrument-files", str(instrument_files), verbosity=0)
    assert _counts() == before
    assert before["measurements.ImpedanceSpectrum"] > 90


def test_queue_mode_queues_each_spectrum_once(instrument_files):
    args = ("load_demo", "--analyse", "queue", "--instrument-files", str(instrument_files))
    call_command(*args, verbosity=0)
    jobs = Job.objects.filter(target_type="spectrum").count()
    call_command(*args, verbosity=0)
    assert jobs == ImpedanceSpectrum.objects.count()
    assert Job.objects.filter(target_type="spectrum").count() == jobs


def test_missing_instrument_folder_is_skipped_with_a_message(tmp_path, capsys):
    call_command("load_demo", "--analyse", "none", "--instrument-files", str(tmp_path / "absent"))
    assert "not found, skipped" in capsys.readouterr().out
    assert RawFile.objects.count() == 0


def test_arrhenius_helper_matches_closed_form():
    sigma_25 = 1e-3
    assert demo.arrhenius_sigma(25.0, sigma_25, 0.35) == pytest.approx(sigma_25)
    t1, t2 = 273.15, 353.15
    s1, s2 = demo.arrhenius_sigma(0.0, sigma_25, 0.35), demo.arrhenius_sigma(80.0, sigma_25, 0.35)
    ea = -math.log((s2 * t2) / (s1 * t1)) / (1 / t2 - 1 / t1) * demo.K_B_EV_PER_K
    assert ea == pytest.approx(0.35, rel=1e-9)


def test_cpe_prefactor_gives_the_intended_effective_capacitance():
    q = demo.cpe_q(2e-9, 150.0, 0.85)
    assert effective_capacitance_rq(150.0, q, 0.85) == pytest.approx(2e-9, rel=1e-9)


def test_noise_is_seeded_and_about_0_4_percent():
    z = np.full(2000, 100 - 50j)
    first, again = demo.noisy(z, "key"), demo.noisy(z, "key")
    np.testing.assert_array_equal(first, again)
    assert np.std((first - z).real) / abs(z[0]) == pytest.approx(0.004, rel=0.1)
