"""DC polarisation and critical-current-density records: written by members, validated by field."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import Visibility
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation
from apps.measurements.services import create_ccd_test, create_dc_polarisation
from tests.factories import CellFactory

pytestmark = pytest.mark.django_db

CCD = dict(
    initial_current_density_ma_per_cm2=0.1, step_ma_per_cm2=0.1, capacity_per_half_cycle_mah_per_cm2=0.1,
    failure_rule="voltage_drop", critical_current_density_ma_per_cm2=0.8,
)


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.PRIVATE)


def test_dc_polarisation_takes_cell_group_and_visibility(cell, member):
    record = create_dc_polarisation(cell=cell, user=member, voltage_v=0.5, steady_current_a=3e-9, temperature_c=25)
    assert (record.group, record.visibility, record.created_by) == (cell.group, "private", member)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"voltage_v": 0.5, "steady_current_a": -1e-9}, "steady_current_a"),
        ({"voltage_v": 0.0, "steady_current_a": 1e-9}, "voltage_v"),
        ({"steady_current_a": 1e-9}, "voltage_v"),
        ({"voltage_v": 0.5, "steady_current_a": 1e-9, "current_ma": 3}, "current_ma"),
    ],
)
def test_invalid_dc_polarisation_names_the_field(fields, field, cell, member):
    with pytest.raises(ValidationError) as caught:
        create_dc_polarisation(cell=cell, user=member, **fields)
    assert field in caught.value.message_dict
    assert DCPolarisation.objects.count() == 0


def test_ccd_test_needs_capacity_or_duration_per_half_cycle(cell, member):
    fields = {**CCD, "capacity_per_half_cycle_mah_per_cm2": None}
    with pytest.raises(ValidationError):
        create_ccd_test(cell=cell, user=member, **fields)
    assert create_ccd_test(cell=cell, user=member, **{**fields, "half_cycle_duration_h": 1.0}).half_cycle_duration_h == 1.0


def test_ccd_step_must_be_positive(cell, member):
    with pytest.raises(ValidationError) as caught:
        create_ccd_test(cell=cell, user=member, **{**CCD, "step_ma_per_cm2": 0})
    assert "step_ma_per_cm2" in caught.value.message_dict


@pytest.mark.parametrize("create, fields", [(create_dc_polarisation, {"voltage_v": 0.5, "steady_current_a": 1e-9}), (create_ccd_test, CCD)])
def test_outsider_cannot_add_measurements(create, fields, cell, outsider):
    with pytest.raises(PermissionDenied):
        create(cell=cell, user=outsider, **fields)
    assert DCPolarisation.objects.count() == CriticalCurrentDensityTest.objects.count() == 0
