"""Detail pages of a cell with many fitted spectra stay within a fixed number of queries."""
import json

import numpy as np
import pytest

from apps.accounts.models import Visibility
from apps.analysis.models import FitResult, FitStatus
from apps.catalog import figures
from apps.measurements.models import ImpedanceSpectrum
from tests.factories import CellFactory, FitProtocolFactory, InterfaceFactory, rc_spectrum

N_SPECTRA = 300


@pytest.fixture
def aged_cell(group):
    """A symmetric cell measured N_SPECTRA times, each fit giving an interfacial R that grows by 1 Ω per hour."""
    cell = CellFactory(group=group, visibility=Visibility.GROUP, configuration="symmetric", active_area_cm2=0.5)
    cell.interfaces.add(InterfaceFactory(group=group, visibility=Visibility.GROUP))
    data = ImpedanceSpectrum.pack(*rc_spectrum())
    spectra = ImpedanceSpectrum.objects.bulk_create(
        ImpedanceSpectrum(
            group=group, visibility=Visibility.GROUP, cell=cell, label=f"t={i} h", data=data, n_points=50,
            frequency_min_hz=0.1, frequency_max_hz=1e6, elapsed_time_h=float(i), cycle_index=i, stack_pressure_mpa=5.0,
        )
        for i in range(N_SPECTRA)
    )
    protocol = FitProtocolFactory(
        name="symmetric test", circuit="R0-p(R1,C1)", element_roles={"R0": "bulk", "R1": "interface", "C1": "interface"}
    )
    FitResult.objects.bulk_create(
        FitResult(
            spectrum=s, protocol=protocol, status=FitStatus.SUCCEEDED, engine_version="test",
            parameters={"R0": 10.0, "R1": 100.0 + i, "C1": 1e-6}, stderr={"R0": 0.1, "R1": 2.0, "C1": 1e-8},
        )
        for i, s in enumerate(spectra)
    )
    return cell


def test_cell_page_with_many_spectra_has_bounded_queries(client, member, aged_cell, django_assert_max_num_queries):
    client.force_login(member)
    # A fixed number per page section (layers, spectra, fits, jobs, worker banner, releases, history, DC
    # polarisation, CCD tests), none per spectrum.
    with django_assert_max_num_queries(27):
        response = client.get(f"/cells/{aged_cell.pk}/")
    assert response.status_code == 200
    nyquist = json.loads(response.context["figures"]["spectra"])
    assert len(nyquist["data"]) == 12  # overlays are capped, spread over the cycles


def test_interfacial_asr_over_time_is_r_times_area_over_two_interfaces(client, member, aged_cell):
    client.force_login(member)
    figure = json.loads(client.get(f"/cells/{aged_cell.pk}/plots/").json()["figures"]["interfacial"])
    trace = figure["data"][0]
    assert len(trace["x"]) == N_SPECTRA
    # Symmetric cell: two identical interfaces in series, each R_interface / 2; area 0.5 cm².
    assert np.allclose(trace["y"], (100.0 + np.arange(N_SPECTRA)) * 0.5 / 2)
    assert np.allclose(trace["error_y"]["array"], 2.0 * 0.5 / 2)


def test_interface_page_plots_resistance_against_pressure(client, member, aged_cell, django_assert_max_num_queries):
    interface = aged_cell.interfaces.get()
    client.force_login(member)
    with django_assert_max_num_queries(25):
        response = client.get(f"/interfaces/{interface.pk}/")
    trace = json.loads(response.context["figures"]["pressure"])["data"][0]
    assert set(trace["x"]) == {5.0} and len(trace["y"]) == N_SPECTRA


# ---------------------------------------------------------------- bounded work on a cell with many spectra


def _add_spectra(cell, group, count: int, start: int) -> list[ImpedanceSpectrum]:
    data = ImpedanceSpectrum.pack(*rc_spectrum())
    return ImpedanceSpectrum.objects.bulk_create(
        ImpedanceSpectrum(
            group=group, visibility=Visibility.GROUP, cell=cell, label=f"t={i} h", data=data, n_points=50,
            frequency_min_hz=0.1, frequency_max_hz=1e6, elapsed_time_h=float(i), cycle_index=i, stack_pressure_mpa=5.0,
        )
        for i in range(start, start + count)
    )


def test_cell_plots_draw_a_capped_spread_and_say_so(client, member, aged_cell, monkeypatch):
    monkeypatch.setattr(figures, "MAX_POINTS", 50)
    client.force_login(member)
    response = client.get(f"/cells/{aged_cell.pk}/")
    nyquist = json.loads(response.context["figures"]["spectra"])
    interfacial = json.loads(response.context["figures"]["interfacial"])["data"][0]
    # Evenly spread over the record, first and last spectrum included.
    assert len(nyquist["data"]) == figures.MAX_SPECTRA_IN_OVERLAY
    assert len(interfacial["x"]) == 50 and interfacial["x"][0] == 0.0 and interfacial["x"][-1] == N_SPECTRA - 1
    assert max(np.diff(interfacial["x"])) - min(np.diff(interfacial["x"])) <= 1
    page = response.content.decode()
    assert f"The overlay draws 12 and the interfacial-resistance plot reads 50 of the {N_SPECTRA} spectra you can see" in page
    assert f"(12 of {N_SPECTRA} spectra, spread evenly)" in json.dumps(nyquist["layout"]["title"])
    assert f"?cell={aged_cell.pk}&amp;format=csv" in page


def test_cell_plots_say_nothing_is_left_out_when_all_are_drawn(client, member, aged_cell):
    client.force_login(member)
    response = client.get(f"/cells/{aged_cell.pk}/plots/")
    interfacial = json.loads(response.json()["figures"]["interfacial"])
    assert len(interfacial["data"][0]["x"]) == N_SPECTRA
    assert "spread evenly" not in json.dumps(interfacial["layout"]["title"])


def test_cell_page_queries_do_not_grow_with_its_spectra(client, member, aged_cell):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(member)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/cells/{aged_cell.pk}/").status_code == 200
        return len(captured)

    before = queries()
    _add_spectra(aged_cell, aged_cell.group, 600, start=N_SPECTRA)
    assert queries() == before


@pytest.mark.parametrize("total", [1, 2, 3, 11, 12, 13, 40])
@pytest.mark.parametrize("n", [2, 5, 12])
def test_spread_picks_evenly_in_the_database_as_in_python(group, total, n):
    cell = CellFactory(group=group)
    spectra = _add_spectra(cell, group, total, start=0)
    spread = figures.spread_spectrum_ids(
        ImpedanceSpectrum.objects.filter(cell=cell), figures.CELL_ORDER, {"few": n, "all": total + 1}
    )
    # Row r of N is picked where ⌊r(n−1)/(N−1)⌋ steps up: n rows, the first and the last among them.
    bucket = [r * (n - 1) // max(total - 1, 1) for r in range(total)]
    expected = [s.pk for r, s in enumerate(spectra) if r == 0 or bucket[r] > bucket[r - 1]]
    assert spread.total == total
    assert spread.ids["few"] == (expected if total > n else [s.pk for s in spectra])
    assert len(spread.ids["few"]) == min(n, total) and spread.ids["few"][-1] == spectra[-1].pk
    assert spread.ids["all"] == [s.pk for s in spectra]


def _series_fits(cell, group, count: int) -> list[ImpedanceSpectrum]:
    """Standard fits of `count` spectra that went through one temperature series' model choice."""
    spectra = _add_spectra(cell, group, count, start=0)
    protocol = FitProtocolFactory(name="series test", circuit="R0-p(R1,C1)", is_standard=True)
    ids = [s.pk for s in spectra]
    FitResult.objects.bulk_create(
        FitResult(
            spectrum=s, protocol=protocol, status=FitStatus.SUCCEEDED, engine_version="test",
            parameters={"R0": 10.0}, stderr={},
            derived={"model_choice": {
                "candidates": [{"name": "series test", "bic": 0.0}, {"name": "other", "bic": 12.0}],
                "series": {"kind": "temperature", "family": "pellet", "position": position, "spectrum_ids": ids},
            }},
        )
        # Stored out of order: the table's order comes from the series positions.
        for position, s in reversed(list(enumerate(spectra)))
    )
    return spectra


def test_series_model_rows_are_capped_in_series_order_and_counted(group):
    from apps.analysis.selectors import series_model_rows

    cell = CellFactory(group=group)
    spectra = _series_fits(cell, group, 12)
    result = series_model_rows(spectrum_ids=ImpedanceSpectrum.objects.filter(cell=cell), limit=5)
    assert [r["spectrum_id"] for r in result.rows] == [s.pk for s in spectra[:5]]
    assert result.total == 12 and result.truncated
    assert result.rows[0]["other_delta"] == 12.0
    whole = series_model_rows(spectrum_ids=[s.pk for s in spectra])
    assert whole.total == 12 and not whole.truncated and len(whole.rows) == 12


def test_cell_page_says_how_many_series_rows_it_shows(client, member, group, monkeypatch):
    from apps.analysis import selectors

    monkeypatch.setattr(selectors, "MAX_SERIES_MODEL_ROWS", 4)
    cell = CellFactory(group=group, visibility=Visibility.GROUP)
    _series_fits(cell, group, 9)
    client.force_login(member)
    page = client.get(f"/cells/{cell.pk}/").content.decode()
    assert "Showing the first 4 of 9 spectra fitted through the series choice" in page
    assert page.count("<td>series test</td>") == 4


def test_separator_page_pages_its_cells_and_its_queries_do_not_grow_with_them(client, member, group):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.catalog.views.separators import CELLS_PER_PAGE

    first = CellFactory(group=group, visibility=Visibility.GROUP)
    separator = first.separator
    client.force_login(member)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/separators/{separator.pk}/").status_code == 200
        return len(captured)

    before = queries()
    CellFactory.create_batch(CELLS_PER_PAGE + 10, group=group, separator=separator, visibility=Visibility.GROUP)
    assert queries() == before
    response = client.get(f"/separators/{separator.pk}/")
    assert len(response.context["page"].object_list) == CELLS_PER_PAGE
    assert f"Cells built on it <span class=\"muted\">({CELLS_PER_PAGE + 11})</span>" in response.content.decode()
    assert len(client.get(f"/separators/{separator.pk}/?page=2").context["page"].object_list) == 11
