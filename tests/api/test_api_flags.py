"""Flag fields in the API: every stored code with the title a person reads and its severity."""
import pytest

from tests.factories import BenchmarkEntryFactory, FitResultFactory

pytestmark = pytest.mark.django_db


def test_fit_flags_come_with_title_and_severity(client_for, group):
    fit = FitResultFactory(flags=["parameter_unidentifiable", "temperature_unknown"])
    fit.spectrum.group = group
    fit.spectrum.save()
    response = client_for("member").get(f"/api/v1/fits/{fit.pk}/")
    assert response.status_code == 200, response.content
    assert response.json()["flags"] == [
        {"code": "parameter_unidentifiable", "title": "Fit parameter not identifiable", "severity": "informative"},
        {"code": "temperature_unknown", "title": "Temperature unknown", "severity": "blocks_leaderboard"},
    ]


def test_benchmark_entry_flags_come_with_title_and_severity():
    from apps.benchmarks.serializers import BenchmarkEntrySerializer

    entry = BenchmarkEntryFactory(flags=["extrapolated", "kk_failed", "some_unregistered_code"])
    assert BenchmarkEntrySerializer(entry).data["flags"] == [
        {"code": "extrapolated", "title": "Extrapolated to 25 °C", "severity": "informative"},
        {"code": "kk_failed", "title": "Kramers–Kronig test failed", "severity": "blocks_leaderboard"},
        {"code": "some_unregistered_code", "title": "Some unregistered code", "severity": "informative"},
    ]
