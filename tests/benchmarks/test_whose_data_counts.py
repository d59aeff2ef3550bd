"""Whose data counts: another group's cells on a public separator stay out of its entries until accepted,
and appear, attributed, in the separator's round robin."""
import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.benchmarks import services
from apps.benchmarks.models import BenchmarkEntry, ComparisonAcceptance, Metric
from apps.measurements.models import ImpedanceSpectrum
from tests.benchmarks.bench_factories import ConductivityFactory, FitFactory
from tests.factories import (
    CellFactory,
    MembershipFactory,
    PressureStepFactory,
    SeparatorFactory,
    SpectrumFactory,
    rc_spectrum,
)

pytestmark = pytest.mark.django_db

TEMPERATURES_C = (25.0, 40.0, 60.0, 80.0)


def _analysed(spectrum, sigma_25c_s_per_cm: float) -> None:
    """What the analysis would store for `spectrum`: a standard fit and its conductivity."""
    t = spectrum.temperature_c
    ConductivityFactory(fit=FitFactory(spectrum=spectrum), spectrum=spectrum, temperature_c=t,
                        conductivity_s_per_cm=sigma_25c_s_per_cm * (1 + (t - 25) / 20))


def _sigma(separator) -> float:
    return BenchmarkEntry.objects.get(separator=separator, cell=None, metric=Metric.SIGMA_25C_TOTAL).value


@pytest.fixture
def separator_of_a(group):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, name="A's public LLZTO", thickness_um=800)
    cell = CellFactory(group=group, separator=separator, visibility=Visibility.PUBLIC)
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10)
    for t in TEMPERATURES_C:
        _analysed(SpectrumFactory(cell=cell, group=group, temperature_c=t, visibility=Visibility.PUBLIC), 1e-4)
    services.recompute_entries(separator_ids=[separator.pk])
    return separator


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_foreign_cells_count_only_after_the_owning_group_accepts_them(separator_of_a, member, monkeypatch):
    monkeypatch.setattr("apps.analysis.services.queue_analysis", lambda **kwargs: None)
    separator = separator_of_a
    before = _sigma(separator)
    assert before == pytest.approx(1e-4)

    # A member of group B builds a cell on A's public separator and bulk-uploads spectra.
    b_member = MembershipFactory().user
    b_group = b_member.memberships.get().group
    b = _client(b_member)
    created = b.post("/api/v1/cells/", {
        "name": "B's cell on A's separator", "configuration": "blocking", "group": b_group.pk,
        "visibility": "public", "separator": separator.pk, "layers": [], "pressure_steps": [
            {"phase": "measurement", "pressure_mpa": 10}],
    }, format="json")
    assert created.status_code == 201, created.json()
    cell_id = created.json()["id"]
    f, z = rc_spectrum()
    items = [{"frequencies_hz": list(f), "z_real_ohm": list(z.real), "z_imag_ohm": list(z.imag), "temperature_c": t}
             for t in TEMPERATURES_C]
    uploaded = b.post("/api/v1/spectra/bulk/", {"cell": cell_id, "spectra": items}, format="json")
    assert uploaded.status_code == 201, uploaded.json()
    for spectrum in ImpedanceSpectrum.objects.filter(cell_id=cell_id):
        _analysed(spectrum, 9e-4)  # B's numbers are far from A's
    services.recompute_entries(cell_ids=[cell_id])

    assert _sigma(separator) == pytest.approx(before)  # B's data is not in A's entries
    round_robin = _client(member).get(f"/api/v1/separators/{separator.pk}/round-robin/").json()
    rows = {row["group_name"]: row for row in round_robin}
    assert set(rows) == {separator.group.name, b_group.name}
    assert rows[separator.group.name]["counted_in_entries"] is True
    assert rows[b_group.name]["counted_in_entries"] is False and rows[b_group.name]["cells"] == [cell_id]
    b_sigma = {v["metric"]: v["value"] for v in rows[b_group.name]["values"]}
    assert b_sigma[Metric.SIGMA_25C_TOTAL] == pytest.approx(9e-4)
    a_sigma = {v["metric"]: v["value"] for v in rows[separator.group.name]["values"]}
    assert a_sigma[Metric.SIGMA_25C_TOTAL] == pytest.approx(1e-4)

    # Only A's members decide; B cannot push its own cell in.
    refused = b.post(f"/api/v1/separators/{separator.pk}/accepted-cells/", {"cell": cell_id}, format="json")
    assert refused.status_code == 403
    accepted = _client(member).post(f"/api/v1/separators/{separator.pk}/accepted-cells/",
                                    {"cell": cell_id, "note": "same pellet batch"}, format="json")
    assert accepted.status_code == 201, accepted.json()
    row = ComparisonAcceptance.objects.get(separator=separator, cell_id=cell_id)
    assert row.accepted_by == member and row.accepted_at is not None
    services.recompute_entries(separator_ids=[separator.pk])
    assert before < _sigma(separator) < 9e-4  # now averaged with A's
    assert _client(member).get(f"/api/v1/separators/{separator.pk}/round-robin/").json() == []

    withdrawn = _client(member).delete(f"/api/v1/separators/{separator.pk}/accepted-cells/{cell_id}/")
    assert withdrawn.status_code == 204
    services.recompute_entries(separator_ids=[separator.pk])
    assert _sigma(separator) == pytest.approx(before)


def test_the_separator_page_offers_the_accept_button_to_owners_members_only(separator_of_a, member, outsider, client):
    b_cell = CellFactory(group=outsider.memberships.get().group, separator=separator_of_a,
                         visibility=Visibility.PUBLIC, name="Foreign cell Q")
    client.force_login(member)
    page = client.get(f"/separators/{separator_of_a.pk}/").content.decode()
    assert "Foreign cell Q" in page and "Accept Foreign cell Q into the entries" in page
    client.post(f"/benchmarks/separators/{separator_of_a.pk}/cells/{b_cell.pk}/", {"action": "accept"})
    assert ComparisonAcceptance.objects.filter(separator=separator_of_a, cell=b_cell, accepted_by=member).exists()
    client.force_login(outsider)
    assert 'value="withdraw"' not in client.get(f"/separators/{separator_of_a.pk}/").content.decode()
    client.post(f"/benchmarks/separators/{separator_of_a.pk}/cells/{b_cell.pk}/", {"action": "withdraw"})
    assert ComparisonAcceptance.objects.filter(separator=separator_of_a, cell=b_cell).exists()  # refused
