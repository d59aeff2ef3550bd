"""Filters a researcher asks for, ordering, search, stable pagination and CSV/JSON exports."""
import csv
import datetime
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Visibility
from apps.catalog.models import MaterialFamily, SeparatorComponent
from tests.factories import BenchmarkEntryFactory, ConductivityFactory, FitResultFactory
from tests.factories import (
    CellFactory,
    MaterialFactory,
    PressureStepFactory,
    SeparatorFactory,
    SourceFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db
PUBLIC = {"visibility": Visibility.PUBLIC}


def ids(client, name: str, **params) -> set[int]:
    response = client.get(reverse(f"api:{name}-list"), {"page_size": 500, **params})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def separator_of(family: str, **fields):
    separator = SeparatorFactory(with_component=False, **PUBLIC, **fields)
    material = MaterialFactory(family=family)
    SeparatorComponent.objects.create(separator=separator, material=material, role="fast_ion_phase", fraction=1.0)
    return separator


def test_separators_filter_by_family_without_duplicates(client):
    garnet = separator_of(MaterialFamily.GARNET)
    SeparatorComponent.objects.create(separator=garnet, material=MaterialFactory(family="garnet"), role="filler")
    separator_of(MaterialFamily.ARGYRODITE)
    response = client.get(reverse("api:separator-list"), {"family": "garnet"})
    assert [row["id"] for row in response.json()["results"]] == [garnet.pk]
    assert response.json()["count"] == 1


@pytest.mark.parametrize("params,expected", [
    ({"thickness_um_min": 100, "thickness_um_max": 500}, {"thin"}),
    ({"thickness_um_min": 501}, {"thick"}),
    ({"processing_route": "cold_pressing"}, {"thin"}),
    ({"densification_pressure_mpa_min": 400}, {"thin"}),
])
def test_separator_range_and_route_filters(client, params, expected):
    made = {
        "thin": separator_of("argyrodite", thickness_um=300, processing_route="cold_pressing", densification_pressure_mpa=500),
        "thick": separator_of("garnet", thickness_um=900, processing_route="sintering", densification_pressure_mpa=100),
    }
    assert ids(client, "separator", **params) == {made[name].pk for name in expected}


@pytest.mark.parametrize("doi", ["10.1000/ABC.1", "doi:10.1000/abc.1", "https://doi.org/10.1000/abc.1"])
def test_doi_filter_accepts_any_spelling(client, doi):
    separator = separator_of("garnet", source=SourceFactory(doi="10.1000/abc.1"))
    separator_of("garnet", source=SourceFactory(doi="10.1000/other"))
    assert ids(client, "separator", doi=doi) == {separator.pk}


def test_separator_completeness_filter_uses_its_benchmark_entries(client):
    complete = separator_of("garnet")
    sketchy = separator_of("garnet")
    BenchmarkEntryFactory(separator=complete, completeness_score=0.9)
    BenchmarkEntryFactory(separator=sketchy, completeness_score=0.4)
    assert ids(client, "separator", completeness_min=0.8) == {complete.pk}


def test_group_and_creation_date_filters(client, group):
    mine = separator_of("garnet", group=group)
    other = separator_of("garnet")
    type(other).objects.filter(pk=other.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
    assert ids(client, "separator", group=group.pk) == {mine.pk}
    assert ids(client, "separator", group_slug=group.slug) == {mine.pk}
    last_week = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
    assert ids(client, "separator", created_after=last_week) == {mine.pk}
    assert ids(client, "separator", created_before=last_week) == {other.pk}


@pytest.mark.parametrize("params,expected", [
    ({"temperature_c_min": 30}, {"hot"}),
    ({"temperature_c_max": 30}, {"cold"}),
    ({"stack_pressure_mpa_min": 50}, {"hot"}),
    ({"configuration": "symmetric"}, {"cold"}),
    ({"family": "halide"}, {"cold"}),
    ({"thickness_um_max": 100}, {"cold"}),
])
def test_spectrum_filters(client, params, expected):
    cold_cell = CellFactory(**PUBLIC, configuration="symmetric", separator=separator_of("halide", thickness_um=80))
    made = {
        "hot": SpectrumFactory(**PUBLIC, temperature_c=60, stack_pressure_mpa=100, cell__visibility=Visibility.PUBLIC),
        "cold": SpectrumFactory(**PUBLIC, temperature_c=-20, stack_pressure_mpa=5, cell=cold_cell),
    }
    assert ids(client, "spectrum", **params) == {made[name].pk for name in expected}


def test_cell_stack_pressure_filter_uses_the_measurement_steps(client):
    low = CellFactory(**PUBLIC)
    high = CellFactory(**PUBLIC)
    PressureStepFactory(cell=low, position=0, phase="densification", pressure_mpa=400)
    PressureStepFactory(cell=low, position=1, phase="measurement", pressure_mpa=5)
    PressureStepFactory(cell=high, position=0, phase="measurement", pressure_mpa=75)
    assert ids(client, "cell", stack_pressure_mpa_min=50) == {high.pk}
    assert ids(client, "cell", stack_pressure_mpa_max=10) == {low.pk}


def test_benchmark_entries_filter_by_completeness_metric_and_family(client):
    keep = BenchmarkEntryFactory(separator=separator_of("garnet"), completeness_score=0.9, family="garnet")
    BenchmarkEntryFactory(separator=separator_of("garnet"), completeness_score=0.5, family="garnet")
    BenchmarkEntryFactory(separator=separator_of("halide"), completeness_score=0.95, family="halide")
    assert ids(client, "benchmarkentry", completeness_min=0.8, family="garnet", metric="sigma_25c_total") == {keep.pk}


def test_conductivity_filters_by_kind_and_temperature(client):
    spectrum = SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC)
    warm = ConductivityFactory(fit__spectrum=spectrum, kind="bulk", temperature_c=60)
    ConductivityFactory(fit=warm.fit, spectrum=spectrum, kind="total", temperature_c=60)
    cold_spectrum = SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC)
    ConductivityFactory(fit__spectrum=cold_spectrum, kind="bulk", temperature_c=0)
    assert ids(client, "conductivity", kind="bulk", temperature_c_min=25) == {warm.pk}


def test_search_finds_separators_by_component_material_once(client):
    separator = separator_of("garnet", name="pellet A")
    SeparatorComponent.objects.create(
        separator=separator, material=MaterialFactory(name="LLZTO-special"), role="filler"
    )
    SeparatorComponent.objects.create(
        separator=separator, material=MaterialFactory(name="LLZTO-special-2"), role="binder"
    )
    separator_of("garnet", name="pellet B")
    response = client.get(reverse("api:separator-list"), {"search": "LLZTO-special"})
    assert [row["id"] for row in response.json()["results"]] == [separator.pk]


def test_ordering_by_a_field_with_ties_is_stable_across_pages(client):
    made = [separator_of("garnet", thickness_um=500) for _ in range(7)]
    seen, url = [], reverse("api:separator-list") + "?ordering=-thickness_um&page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(s.pk for s in made)


def test_ordering_by_value(client):
    low = BenchmarkEntryFactory(separator=separator_of("garnet"), value=1e-5)
    high = BenchmarkEntryFactory(separator=separator_of("garnet"), value=1e-3)
    response = client.get(reverse("api:benchmarkentry-list"), {"ordering": "-value"})
    assert [row["id"] for row in response.json()["results"]] == [high.pk, low.pk]


def test_leaderboard_ranks_complete_unflagged_entries_best_first(client):
    best = BenchmarkEntryFactory(separator=separator_of("garnet"), value=1e-3, completeness_score=0.9)
    second = BenchmarkEntryFactory(separator=separator_of("garnet"), value=1e-4, completeness_score=0.9)
    BenchmarkEntryFactory(separator=separator_of("garnet"), value=1e-2, completeness_score=0.3)
    BenchmarkEntryFactory(separator=separator_of("garnet"), value=5e-2, completeness_score=0.9, blocking=True)
    rows = client.get(reverse("api:benchmarkentry-leaderboard"), {"metric": "sigma_25c_total"}).json()
    assert [(row["rank"], row["id"]) for row in rows] == [(1, best.pk), (2, second.pk)]


def test_leaderboard_needs_a_known_metric(client):
    response = client.get(reverse("api:benchmarkentry-leaderboard"), {"metric": "speed"})
    assert response.status_code == 400
    assert "metric" in response.json()["error"]["fields"]


# ----------------------------------------------------------------------------- exports


def test_separator_export_csv_has_dotted_nested_columns_and_an_attachment_name(client):
    separator = separator_of("garnet", name="pellet, with comma", thickness_um=321.5)
    response = client.get(reverse("api:separator-export"), {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="separators.csv"'
    *lines, trailer = b"".join(response.streaming_content).decode().splitlines()
    assert trailer == "# end of export: 1 rows"
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [(int(r["id"]), r["name"], float(r["thickness_um"])) for r in rows] == [
        (separator.pk, "pellet, with comma", 321.5)
    ]
    assert json.loads(rows[0]["components"])[0]["role"] == "fast_ion_phase"


def test_spectra_export_follows_the_list_filters(client):
    warm = SpectrumFactory(**PUBLIC, temperature_c=60, cell__visibility=Visibility.PUBLIC)
    SpectrumFactory(**PUBLIC, temperature_c=10, cell__visibility=Visibility.PUBLIC)
    response = client.get(reverse("api:spectrum-export"), {"format": "json", "temperature_c_min": 50})
    body = json.loads(b"".join(response.streaming_content))
    rows = body["results"]
    assert [row["id"] for row in rows] == [warm.pk] and body["count"] == 1
    assert "frequencies_hz" not in rows[0]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_spectrum_export_round_trips_through_the_parser(client, fmt):
    from apps.measurements.parsers import parse

    spectrum = SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC)
    response = client.get(reverse("api:spectrum-spectrum-export", args=[spectrum.pk]), {"format": fmt})
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    parsed = parse(response.content, filename=f"export.{fmt}")[0]
    assert parsed.frequencies_hz.tolist() == spectrum.frequencies_hz.tolist()
    assert parsed.impedance_ohm.tolist() == spectrum.impedance_ohm.tolist()


def test_fit_export_json_has_parameters_and_residuals(client):
    fit = FitResultFactory(spectrum=SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC))
    body = json.loads(client.get(reverse("api:fit-fit-export", args=[fit.pk]), {"format": "json"}).content)
    assert body["parameters"] == fit.parameters and body["stderr"] == fit.stderr  # already at their precision
    assert len(body["residuals_real"]) == 50


# Numbers in files are rounded to their uncertainty: two significant digits of it (apps.common.formatting).


def _export(client, name: str, fmt: str) -> list[dict]:
    response = client.get(reverse(f"api:{name}-export"), {"format": fmt})
    text = b"".join(response.streaming_content).decode()
    if fmt == "json":
        return json.loads(text)["results"]
    return list(csv.DictReader(io.StringIO(text.rsplit("# end of export", 1)[0])))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_entry_export_rounds_value_and_interval_to_the_uncertainty(client, fmt):
    separator = SeparatorFactory(**PUBLIC)
    BenchmarkEntryFactory(separator=separator, value=0.00045123, stderr=0.0000142, ci_low=0.00042337,
                          ci_high=0.00047911, temperature_c=25.123456)
    (row,) = _export(client, "benchmarkentry", fmt)
    as_numbers = {k: float(row[k]) for k in ("value", "stderr", "ci_low", "ci_high", "temperature_c")}
    # The page shows 0.451 ± 0.014 mS/cm; the file the same digits in S/cm. No uncertainty: full precision.
    assert as_numbers == {"value": 0.000451, "stderr": 1.4e-05, "ci_low": 0.000423, "ci_high": 0.000479,
                          "temperature_c": 25.123456}
    if fmt == "csv":
        assert row["value"] == "0.000451" and row["ci_high"] == "0.000479"


def test_entry_export_keeps_full_precision_without_an_uncertainty(client):
    BenchmarkEntryFactory(separator=SeparatorFactory(**PUBLIC), value=0.000451234567, stderr=None)
    (row,) = _export(client, "benchmarkentry", "json")
    assert row["value"] == 0.000451234567


def test_fit_and_conductivity_exports_round_to_their_standard_errors(client):
    spectrum = SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC)
    fit = FitResultFactory(spectrum=spectrum, parameters={"R0": 10.23456, "CPE1_n": 0.912345},
                           stderr={"R0": 0.1234, "CPE1_n": None})
    ConductivityFactory(fit=fit, resistance_ohm=1234.5678, resistance_stderr_ohm=56.789,
                        conductivity_s_per_cm=1.234567e-4, conductivity_stderr_s_per_cm=5.6789e-6)
    (fit_row,) = _export(client, "fit", "json")
    assert fit_row["parameters"] == {"R0": 10.23, "CPE1_n": 0.912345}
    assert fit_row["stderr"] == {"R0": 0.12, "CPE1_n": None}
    (fit_csv,) = _export(client, "fit", "csv")
    assert fit_csv["parameters.R0"] == "10.23" and fit_csv["stderr.R0"] == "0.12"
    one = client.get(reverse("api:fit-fit-export", args=[fit.pk]), {"format": "csv"}).content.decode()
    assert "R0,10.23,0.12" in one.splitlines()
    (row,) = _export(client, "conductivity", "csv")
    assert (row["resistance_ohm"], row["resistance_stderr_ohm"]) == ("1235.0", "57.0")
    assert (row["conductivity_s_per_cm"], row["conductivity_stderr_s_per_cm"]) == ("0.0001235", "5.7e-06")


def test_arrhenius_export_rounds_sigma_25c_and_its_interval_to_its_standard_error(client):
    from tests.factories import ArrheniusFitFactory

    fit = ArrheniusFitFactory(separator=SeparatorFactory(**PUBLIC), activation_energy_ev=0.412345,
                              activation_energy_stderr_ev=0.01234, sigma_25c_s_per_cm=1.23456e-4,
                              sigma_25c_ci_low_s_per_cm=0.912345e-4, sigma_25c_ci_high_s_per_cm=1.70123e-4, n_points=6)
    (row,) = _export(client, "arrheniusfit", "json")
    stderr = fit.sigma_25c_stderr_s_per_cm  # from the ln-symmetric interval: ≈ 1.42e-5
    assert 1e-5 < stderr < 2e-5
    assert row["activation_energy_ev"] == 0.412 and row["activation_energy_stderr_ev"] == 0.012
    assert row["sigma_25c_stderr_s_per_cm"] == pytest.approx(float(f"{stderr:.2g}"), rel=1e-12)
    assert (row["sigma_25c_s_per_cm"], row["sigma_25c_ci_low_s_per_cm"], row["sigma_25c_ci_high_s_per_cm"]) == (
        0.000123, 0.000091, 0.00017)


def test_empty_export_still_has_a_header(client):
    response = client.get(reverse("api:conductivity-export"), {"format": "csv"})
    header, trailer = b"".join(response.streaming_content).decode().splitlines()
    assert header.startswith("id,") and trailer == "# end of export: 0 rows"


@pytest.mark.parametrize("name", ["separator", "cell", "spectrum"])
def test_detail_shows_completeness_with_the_missing_items(client, name):
    from apps.benchmarks.completeness import completeness

    spectrum = SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC, ac_amplitude_mv=None)
    record = {"separator": spectrum.cell.separator, "cell": spectrum.cell, "spectrum": spectrum}[name]
    body = client.get(reverse(f"api:{name}-detail", args=[record.pk])).json()
    expected = completeness(type(record).objects.get(pk=record.pk))
    assert body["completeness"]["score"] == pytest.approx(expected.score, abs=1e-4)
    assert body["completeness"]["missing"] == expected.missing and expected.missing


def test_non_finite_numbers_read_as_null_in_json_and_empty_in_csv(client):
    conductivity = ConductivityFactory(
        fit__spectrum=SpectrumFactory(**PUBLIC, cell__visibility=Visibility.PUBLIC),
        conductivity_stderr_s_per_cm=float("nan"),
        resistance_stderr_ohm=float("inf"),
    )
    detail = client.get(reverse("api:conductivity-detail", args=[conductivity.pk]))
    assert detail.status_code == 200
    assert (detail.json()["conductivity_stderr_s_per_cm"], detail.json()["resistance_stderr_ohm"]) == (None, None)
    exported = json.loads(b"".join(client.get(reverse("api:conductivity-export"), {"format": "json"}).streaming_content))
    assert exported["results"][0]["conductivity_stderr_s_per_cm"] is None
    rows = list(csv.DictReader(io.StringIO(b"".join(
        client.get(reverse("api:conductivity-export"), {"format": "csv"}).streaming_content
    ).decode()), restkey="trailer"))[:-1]
    assert rows[0]["conductivity_stderr_s_per_cm"] == ""


@pytest.fixture
def many_spectra():
    """2,000 public spectra of one cell, temperatures with ties."""
    cell = CellFactory(**PUBLIC)
    built = SpectrumFactory.build_batch(2000, cell=cell, group=cell.group, **PUBLIC)
    for index, spectrum in enumerate(built):
        spectrum.temperature_c = float(index % 7 * 10)
    from apps.measurements.models import ImpedanceSpectrum

    return ImpedanceSpectrum.objects.bulk_create(built)


def list_rows(client, url: str) -> list[dict]:
    rows = []
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


@pytest.mark.parametrize("ordering", ["", "-temperature_c"])
def test_large_export_streams_every_list_row_and_ends_with_its_count(client, many_spectra, monkeypatch, ordering):
    monkeypatch.setattr("apps.common.exports.EXPORT_CHUNK_ROWS", 300)
    query = f"?ordering={ordering}" if ordering else "?"
    listed = list_rows(client, reverse("api:spectrum-list") + query + "&page_size=500")
    response = client.get(reverse("api:spectrum-export") + query + "&format=json")
    assert response.streaming
    content = b"".join(response.streaming_content)
    body = json.loads(content)
    assert body["count"] == len(many_spectra) == len(body["results"])
    assert body["results"] == listed
    with pytest.raises(json.JSONDecodeError):  # a cut-off JSON export never parses
        json.loads(content[: len(content) // 2])

    csv_response = client.get(reverse("api:spectrum-export") + query + "&format=csv")
    assert csv_response.streaming
    *lines, trailer = b"".join(csv_response.streaming_content).decode().splitlines()
    assert trailer == f"# end of export: {len(many_spectra)} rows"
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [int(row["id"]) for row in rows] == [row["id"] for row in listed]
