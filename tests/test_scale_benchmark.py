"""benchmarks/scale.py at a tiny size on the configured database: it loads what it says and measures every row."""
import importlib.util
import sys
from pathlib import Path

import pytest

from apps.analysis.models import Conductivity, FitResult, KramersKronigCheck
from apps.measurements.models import ImpedanceSpectrum

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


@pytest.fixture
def scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.django_db
def test_scale_benchmark_loads_spectra_with_results_and_measures_the_table(scale, standard_protocols):
    rows = dict(scale.run(200, deep_hops=2, recompute="sample"))
    assert ImpedanceSpectrum.objects.count() == 200
    assert FitResult.objects.count() == KramersKronigCheck.objects.count() == 200
    assert Conductivity.objects.count() == 600
    spectrum = ImpedanceSpectrum.objects.order_by("pk").first()
    assert spectrum.frequencies_hz.shape == (scale.N_POINTS,) and spectrum.impedance_ohm.shape == (scale.N_POINTS,)
    labels = " | ".join(rows)
    for page in ("separator page", "cell page", "dashboard", "leaderboard", "home", "(first page)", "(page 3)",
                 "/api/v1/conductivities/", "conductivities CSV export", "recompute_entries"):
        assert page in labels, page
    trailer = rows["export trailer"]
    exported = next(what for what in rows if what.startswith("conductivities CSV export"))
    n_rows = int(exported.split("(")[1].split()[0].replace(",", ""))
    assert trailer == f"# end of export: {n_rows} rows" and 0 < n_rows < 600  # the viewer sees part of the rows
