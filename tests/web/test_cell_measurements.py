"""DC polarisation and CCD pages and forms: what they show, what they store, how they refuse bad input."""
import pytest

from apps.accounts.models import Visibility
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation
from tests.factories import CCDTestFactory, CellFactory, DCPolarisationFactory, SeparatorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cell(group):
    separator = SeparatorFactory(group=group, thickness_um=500.0, thickness_stderr_um=10.0, area_cm2=1.0)
    return CellFactory(group=group, separator=separator, active_area_cm2=None, visibility=Visibility.GROUP)


def test_dc_page_shows_sigma_e_with_the_thickness_error_propagated(client, member, cell):
    # σe = L·I/(A·ΔV) = 0.05 cm · 1e-8 A / (1 cm² · 0.5 V) = 1e-9 S/cm; 2 % thickness error → 2e-11 S/cm
    dc = DCPolarisationFactory(group=cell.group, cell=cell, voltage_v=0.5, steady_current_a=1e-8)
    client.force_login(member)
    html = client.get(f"/dc-polarisations/{dc.pk}/").content.decode()
    assert "(1.000 ± 0.020) × 10⁻⁹ S/cm" in html
    assert "ΔV" in html and "Current during DC polarisation" in html


def test_dc_page_says_why_sigma_e_is_missing_without_thickness(client, member, group):
    dc = DCPolarisationFactory(group=group, cell=CellFactory(group=group, separator=None))
    client.force_login(member)
    assert "needs the separator's thickness" in client.get(f"/dc-polarisations/{dc.pk}/").content.decode()


def test_ccd_page_lists_the_steps_up_to_the_failing_one(client, member, cell):
    test = CCDTestFactory(group=cell.group, cell=cell, initial_current_density_ma_per_cm2=0.1, step_ma_per_cm2=0.1,
                          capacity_per_half_cycle_mah_per_cm2=0.1, critical_current_density_ma_per_cm2=0.4)
    client.force_login(member)
    response = client.get(f"/ccd-tests/{test.pk}/")
    steps = response.context["steps"]
    assert [round(s["current_density_ma_per_cm2"], 6) for s in steps] == [0.1, 0.2, 0.3, 0.4]
    assert [round(s["half_cycle_duration_h"], 6) for s in steps] == [1.0, 0.5, round(1 / 3, 6), 0.25]
    assert [s["failed"] for s in steps] == [False, False, False, True]
    assert "Sudden voltage drop" in response.content.decode()


def test_cell_page_lists_its_dc_and_ccd_records(client, member, cell):
    dc = DCPolarisationFactory(group=cell.group, cell=cell)
    ccd = CCDTestFactory(group=cell.group, cell=cell)
    client.force_login(member)
    html = client.get(f"/cells/{cell.pk}/").content.decode()
    assert f"/dc-polarisations/{dc.pk}/" in html and f"/ccd-tests/{ccd.pk}/" in html
    assert "Add CCD test" in html


def test_dc_form_stores_the_record_and_its_pasted_current_trace(client, member, cell):
    client.force_login(member)
    response = client.post("/dc-polarisations/new/", {
        "cell": cell.pk, "voltage_v": "0.5", "steady_current_a": "2e-9", "trace": "0, 4e-7\n60\t2e-8\n3600 2e-9\n",
    })
    dc = DCPolarisation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dc-polarisations/{dc.pk}/"
    assert (dc.time_s, dc.current_a, dc.group, dc.created_by) == ([0, 60, 3600], [4e-7, 2e-8, 2e-9], cell.group, member)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("trace", "0, 1e-7\n10 x", "Line 2"),
        ("trace", "0, 1e-7\n0, 2e-7", "must rise strictly"),
        ("steady_current_a", "-1", "steady"),
        ("voltage_v", "", "required"),
    ],
)
def test_dc_form_explains_bad_input_and_stores_nothing(client, member, cell, field, value, message):
    client.force_login(member)
    data = {"cell": cell.pk, "voltage_v": "0.5", "steady_current_a": "2e-9", field: value}
    response = client.post("/dc-polarisations/new/", data)
    assert response.status_code == 200
    assert message.lower() in response.content.decode().lower()
    assert not DCPolarisation.objects.exists()


def test_ccd_form_needs_the_protocol_without_which_a_ccd_means_little(client, member, cell):
    client.force_login(member)
    response = client.post("/ccd-tests/new/", {
        "cell": cell.pk, "initial_current_density_ma_per_cm2": "0.1", "step_ma_per_cm2": "0.1",
        "failure_rule": "voltage_limit",
    })
    html = response.content.decode()
    assert response.status_code == 200
    assert "State the capacity per half-cycle or its duration." in html
    assert "A voltage-limit failure rule needs its limit." in html
    assert not CriticalCurrentDensityTest.objects.exists()


def test_ccd_edit_changes_the_failing_current(client, member, cell):
    test = CCDTestFactory(group=cell.group, cell=cell, visibility=cell.visibility, critical_current_density_ma_per_cm2=0.5)
    client.force_login(member)
    page = client.get(f"/ccd-tests/{test.pk}/edit/")
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    data.update(cell=cell.pk, critical_current_density_ma_per_cm2="0.7")
    data.pop("measured_at", None)
    response = client.post(f"/ccd-tests/{test.pk}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    test.refresh_from_db()
    assert test.critical_current_density_ma_per_cm2 == 0.7


def test_outsider_cannot_add_a_measurement_to_a_cell_of_another_group(client, outsider, cell):
    client.force_login(outsider)
    response = client.post("/dc-polarisations/new/", {"cell": cell.pk, "voltage_v": "0.5", "steady_current_a": "2e-9"})
    assert response.status_code == 200 and not DCPolarisation.objects.exists()
    assert client.get(f"/dc-polarisations/{DCPolarisationFactory(group=cell.group, cell=cell).pk}/edit/").status_code == 404
