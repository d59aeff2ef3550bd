"""Detail pages of a cell with many fitted spectra stay within a fixed number of queries."""
import json

import numpy as np
import pytest

from apps.accounts.models import Visibility
from apps.analysis.models import FitResult, FitStatus
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
