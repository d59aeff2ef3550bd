"""The database itself rejects rows that make no physical sense."""
import pytest
from django.db import IntegrityError, transaction

from apps.analysis.models import FitResult
from apps.catalog.models import SeparatorComponent
from tests.factories import (
    CellFactory,
    FitProtocolFactory,
    MaterialFactory,
    PressureStepFactory,
    SeparatorFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db


def _rejected(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.parametrize(
    "field,value",
    [("thickness_um", 0.0), ("thickness_um", -5.0), ("area_cm2", 0.0), ("relative_density", 1.2), ("relative_density", -0.1),
     ("inorganic_volume_fraction", 1.5), ("densification_pressure_mpa", -1.0)],
)
def test_separator_rejects_unphysical_values(field, value):
    _rejected(lambda: SeparatorFactory(**{field: value}, with_component=False))


def test_component_fraction_above_one_rejected():
    separator = SeparatorFactory(with_component=False)
    _rejected(lambda: SeparatorComponent.objects.create(
        separator=separator, material=MaterialFactory(), role="fast_ion_phase", fraction=1.01))


def test_cell_active_area_must_be_positive():
    _rejected(lambda: CellFactory(active_area_cm2=0))


def test_pressure_steps_are_ordered_uniquely_and_nonnegative():
    cell = CellFactory()
    PressureStepFactory(cell=cell, position=0, pressure_mpa=400)
    _rejected(lambda: PressureStepFactory(cell=cell, position=0, pressure_mpa=10))
    _rejected(lambda: PressureStepFactory(cell=cell, position=1, pressure_mpa=-1))


def test_pressure_history_orders_by_position_and_reports_measurement_pressure():
    cell = CellFactory()
    PressureStepFactory(cell=cell, position=2, phase="measurement", pressure_mpa=5)
    PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=375)
    PressureStepFactory(cell=cell, position=1, phase="measurement", pressure_mpa=50)
    assert [s.pressure_mpa for s in cell.pressure_steps.all()] == [375, 50, 5]
    assert cell.measurement_pressure_mpa == 5


@pytest.mark.parametrize("field,value", [("n_points", 3), ("frequency_min_hz", 0.0), ("state_of_charge", 1.5),
                                         ("stack_pressure_mpa", -2.0), ("temperature_c", -300.0)])
def test_spectrum_rejects_unphysical_conditions(field, value):
    _rejected(lambda: SpectrumFactory(**{field: value}))


def test_one_fit_per_spectrum_and_protocol_version():
    spectrum = SpectrumFactory()
    protocol = FitProtocolFactory()
    FitResult.objects.create(spectrum=spectrum, protocol=protocol, status="succeeded", engine_version="1")
    _rejected(lambda: FitResult.objects.create(spectrum=spectrum, protocol=protocol, status="failed", engine_version="1"))


def test_spectrum_arrays_round_trip_exactly():
    import numpy as np

    from tests.factories import rc_spectrum

    f, z = rc_spectrum(n_points=37)
    spectrum = SpectrumFactory()
    spectrum.set_arrays(f, z)
    spectrum.save()
    spectrum.refresh_from_db()
    assert np.array_equal(spectrum.frequencies_hz, f) and np.array_equal(spectrum.impedance_ohm, z)
    assert spectrum.n_points == 37 and spectrum.frequency_max_hz == f.max()
