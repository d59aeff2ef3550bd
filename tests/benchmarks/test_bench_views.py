"""Benchmark pages: render with points, rank only what qualifies, never leak hidden records."""
import io
import json
import zipfile

import pytest
from django.urls import reverse

from apps.benchmarks import services
from apps.benchmarks.models import BenchmarkEntry, Metric
from apps.benchmarks.selectors import leaderboard, round_robin, visible_entries
from tests.benchmarks.bench_factories import ConductivityFactory, FitFactory, LiteratureValueFactory
from tests.factories import CellFactory, PressureStepFactory, SourceFactory, SpectrumFactory, publish_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _benchmark_urls(settings):
    settings.ROOT_URLCONF = "tests.benchmarks.bench_urls"


def complete_cell(*, group=None, visibility="public", sigma=2e-4, name=None, pressure=10.0):
    extra = {"group": group} if group is not None else {}
    cell = CellFactory(visibility=visibility, source=SourceFactory(), **extra)
    separator = cell.separator
    separator.visibility = visibility
    separator.thickness_method, separator.thickness_measured_when = "micrometer", "after_densification"
    separator.source = SourceFactory()
    if name:
        separator.name = name
    separator.save()
    PressureStepFactory(cell=cell, phase="densification", pressure_mpa=370, position=0)
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=pressure, position=1)
    spectrum = SpectrumFactory(cell=cell, group=cell.group, visibility=visibility, temperature_c=25.0,
                               stack_pressure_mpa=pressure, ac_amplitude_mv=10, equilibration_time_min=30,
                               atmosphere="argon", points_per_decade=10)
    ConductivityFactory(fit=FitFactory(spectrum=spectrum), conductivity_s_per_cm=sigma)
    services.recompute_entries(separator_ids=[separator.pk], cell_ids=[cell.pk])
    return cell


def sigma_entry(cell):
    return BenchmarkEntry.objects.get(separator=cell.separator, cell=None, metric=Metric.SIGMA_25C_TOTAL)


# --- visibility -----------------------------------------------------------------------


@pytest.mark.parametrize("visibility, role, sees", [
    ("public", "anonymous", True), ("public", "outsider", True),
    ("group", "anonymous", False), ("group", "outsider", False), ("group", "member", True),
    ("private", "member", False), ("private", "owner", True),
])
def test_entries_follow_their_separator_visibility(visibility, role, sees, group, request):
    cell = complete_cell(group=group, visibility=visibility)
    user = None if role == "anonymous" else request.getfixturevalue(role)
    assert visible_entries(user=user).filter(pk=sigma_entry(cell).pk).exists() is sees


def test_cell_entry_hidden_when_its_separator_is_hidden(outsider, group):
    cell = CellFactory(configuration="symmetric", electrode_contact="li", visibility="public", group=group)
    separator = cell.separator
    separator.visibility = "group"
    separator.save()
    entry = BenchmarkEntry.objects.create(cell=cell, separator=separator, metric=Metric.INTERFACIAL_ASR, value=10,
                                          unit="Ω·cm²", completeness_score=0.9)
    assert not visible_entries(user=outsider).filter(pk=entry.pk).exists()


# --- leaderboards ---------------------------------------------------------------------


def test_leaderboard_ranks_complete_unflagged_entries_best_first():
    low = complete_cell(sigma=1e-4)
    high = complete_cell(sigma=5e-4)
    ranked = leaderboard(user=None, metric=Metric.SIGMA_25C_TOTAL)
    assert [e.separator_id for e in ranked] == [high.separator_id, low.separator_id]
    assert ranked[0].completeness_score >= 0.7


def test_flagged_entry_stays_off_the_leaderboard():
    cell = complete_cell(sigma=0.9)  # implausible for a garnet → blocking flag
    assert sigma_entry(cell).blocking
    assert leaderboard(user=None, metric=Metric.SIGMA_25C_TOTAL) == []


def test_incomplete_entry_stays_off_the_leaderboard():
    cell = complete_cell()
    BenchmarkEntry.objects.filter(pk=sigma_entry(cell).pk).update(completeness_score=0.5)
    assert leaderboard(user=None, metric=Metric.SIGMA_25C_TOTAL) == []
    assert leaderboard(user=None, metric=Metric.SIGMA_25C_TOTAL, min_completeness=0.4) != []


def test_round_robin_reports_spread_between_two_groups():
    complete_cell(sigma=1e-4)
    complete_cell(sigma=3e-4, pressure=15.0)
    complete_cell(sigma=9e-4, pressure=100.0)  # pressure not comparable: its own cluster, one group
    rows = [r for r in round_robin(user=None) if r.metric == Metric.SIGMA_25C_TOTAL]
    assert len(rows) == 1
    row = rows[0]
    assert row.n == 2 and len(row.groups) == 2
    assert row.median == pytest.approx(2e-4)
    assert row.relative_spread == pytest.approx((3e-4 - 1e-4) / 2e-4)


# --- pages ------------------------------------------------------------------------------


def released_cell(**kwargs):
    """A complete cell whose separator (with the cell and its spectra) is released: what public pages show."""
    cell = complete_cell(**kwargs)
    publish_release(separators=[cell.separator])
    return cell


def figure_payload(response, name):
    figures = response.context["figures"]
    return json.loads(figures[name])


def test_dashboard_renders_points_and_literature_credit(client):
    cell = released_cell()
    LiteratureValueFactory(conductivity_s_per_cm=3e-4)
    response = client.get(reverse("benchmarks:dashboard"))
    assert response.status_code == 200
    assert response.context["n_points"]["conductivity"] == 2  # one own point, one literature point
    assert response.context["n_points"]["asr"] == 1
    body = response.content.decode()
    assert "Therrien et al." in body and "CC BY 4.0" in body
    assert reverse("benchmarks:reproduce", args=[sigma_entry(cell).pk]) in body
    urls = [d[0] for trace in figure_payload(response, "conductivity")["data"] for d in (trace.get("customdata") or [])]
    assert reverse("catalog:separator-detail", args=[cell.separator_id]) in urls


def test_dashboard_conductivity_panels_share_one_log_axis(client):
    released_cell()
    LiteratureValueFactory(conductivity_s_per_cm=3e-4)
    layout = figure_payload(client.get(reverse("benchmarks:dashboard")), "conductivity")["layout"]
    assert layout["yaxis"]["type"] == layout["yaxis2"]["type"] == "log"
    assert layout["yaxis2"]["matches"] == "y"


def test_dashboard_hover_shows_doi_completeness_and_percentile(client):
    cell = released_cell(sigma=5e-4)
    for sigma in (1e-4, 2e-4, 1e-3):
        LiteratureValueFactory(conductivity_s_per_cm=sigma)
    response = client.get(reverse("benchmarks:dashboard"))
    texts = " ".join(t for trace in figure_payload(response, "conductivity")["data"] for t in (trace.get("text") or []))
    assert cell.separator.source.doi in texts
    assert "Completeness:" in texts
    assert "Above 67 % of published Garnet values" in texts


def test_dashboard_plot_data_never_holds_hidden_records(client, outsider):
    hidden = complete_cell(visibility="private", name="SECRET-PELLET")
    complete_cell(name="open pellet")
    client.force_login(outsider)
    response = client.get(reverse("benchmarks:dashboard"), {"include_unreleased": "1"})
    assert response.status_code == 200
    assert "SECRET-PELLET" not in response.content.decode()
    assert all("SECRET-PELLET" not in fig for fig in response.context["figures"].values())
    assert str(reverse("catalog:separator-detail", args=[hidden.separator_id])) not in "".join(
        response.context["figures"].values())


def test_dashboard_filters_by_family(client):
    complete_cell()
    response = client.get(reverse("benchmarks:dashboard"), {"family": "halide"})
    assert response.status_code == 200
    assert response.context["n_entries"] == 0


def test_dashboard_with_bad_filter_values_still_renders(client):
    response = client.get(reverse("benchmarks:dashboard"), {"min_completeness": "lots", "family": "unobtainium"})
    assert response.status_code == 200
    assert response.context["filters"]["min_completeness"] == 0.0


def test_leaderboard_page_lists_ranked_entries(client):
    cell = released_cell()
    response = client.get(reverse("benchmarks:leaderboard", args=[Metric.SIGMA_25C_TOTAL]))
    assert response.status_code == 200
    assert cell.separator.name in response.content.decode()


def test_unknown_metric_leaderboard_is_404(client):
    assert client.get(reverse("benchmarks:leaderboard", args=["speed"])).status_code == 404


def test_entry_page_shows_missing_items_and_flags(client):
    cell = complete_cell()
    entry = sigma_entry(cell)
    response = client.get(reverse("benchmarks:entry", args=[entry.pk]))
    assert response.status_code == 200
    assert "Completeness" in response.content.decode()


@pytest.mark.parametrize("role, status", [("anonymous", 404), ("outsider", 404), ("member", 200)])
def test_reproduce_download_follows_visibility(role, status, client, group, request):
    cell = complete_cell(group=group, visibility="group")
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("benchmarks:reproduce", args=[sigma_entry(cell).pk]))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/zip"
        assert "README.md" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


def _entry_on_spectra(visibilities):
    from tests.factories import BenchmarkEntryFactory

    cell = complete_cell()
    spectra = [SpectrumFactory(cell=cell, group=cell.group, visibility=v) for v in visibilities]
    entry = BenchmarkEntryFactory(separator=cell.separator, metric=Metric.CRITICAL_CURRENT_DENSITY,  # none computed
                                  details={"spectrum_ids": [s.pk for s in spectra]})
    return entry, spectra


def test_entry_page_lists_its_spectra_a_page_at_a_time(client, monkeypatch):
    monkeypatch.setattr("apps.benchmarks.views.ENTRY_SPECTRA_PER_PAGE", 2)
    entry, spectra = _entry_on_spectra(["public", "public", "private", "public", "public", "public"])
    url = reverse("benchmarks:entry", args=[entry.pk])
    first, second, last = (client.get(url + f"?page={n}").content.decode() for n in (1, 2, 3))
    assert f"#{spectra[0].pk}<" in first and f"#{spectra[1].pk}<" in first and f"#{spectra[3].pk}<" not in first
    assert "page 1 of 3" in first and "not visible to you" not in first
    assert f"#{spectra[3].pk}<" in second and "1 spectrum(s) used on this page are not visible to you" in second
    assert f"#{spectra[5].pk}<" in last and f"#{spectra[2].pk}<" not in first + second + last


def test_reproduce_bundle_entry_json_names_only_visible_spectra(client):
    entry, spectra = _entry_on_spectra(["public", "private", "public"])
    response = client.get(reverse("benchmarks:reproduce", args=[entry.pk]))
    details = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("entry.json"))["details"]
    assert details["spectrum_ids"] == [spectra[0].pk, spectra[2].pk] and details["hidden_records"] == 1
