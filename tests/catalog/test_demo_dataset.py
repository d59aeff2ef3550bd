"""The demo dataset: what the brief asks for is there, with numbers in the literature ranges.

The dataset is loaded once for the module inside a transaction rolled back at
the end; each test runs in its own savepoint within it.
"""
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from apps.accounts.models import Visibility
from apps.catalog import demo
from apps.catalog.models import Cell, Interface, Separator
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum, RawFile

INSTRUMENT_FILES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "instrument-files"


@pytest.fixture(scope="module")
def _demo_in_module(django_db_setup, django_db_blocker):
    """Load once per module inside a transaction that is rolled back at the end; tests run in savepoints."""
    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast_hashing:
        with transaction.atomic():
            call_command("load_demo", "--analyse", "none", "--instrument-files", str(INSTRUMENT_FILES), verbosity=0)
            yield
            transaction.set_rollback(True)


@pytest.fixture
def loaded(_demo_in_module, db):
    return None


def test_demo_users_and_groups(loaded):
    User = get_user_model()
    demo_user = User.objects.get(username="demo")
    assert demo_user.is_superuser and demo_user.is_staff and demo_user.check_password("demo-password")
    assert demo_user.research_groups.count() == 3
    guest = User.objects.get(username="guest")
    assert guest.check_password("guest-password") and guest.research_groups.count() == 0


@pytest.mark.parametrize(
    "name, family, route",
    [
        ("Ta-doped LLZO pellet (hot-pressed)", "garnet", "hot_pressing"),
        ("LATP pellet (sintered, uncoated)", "nasicon", "sintering"),
        ("LATP pellet with AlPO4 coating", "nasicon", "sintering"),
        ("Li6PS5Cl cold-pressed pellet (375 MPa)", "argyrodite", "cold_pressing"),
        ("PEO–LiTFSI membrane (EO:Li 20:1)", "polymer", "solution_casting"),
        ("PEO/LLZTO hybrid, wet infiltration", "garnet", "wet_infiltration"),
        ("PEO/LLZTO hybrid, dry mixing", "garnet", "dry_mixing"),
        ("Li3InCl6 cold-pressed pellet", "halide", "cold_pressing"),
    ],
)


def test_required_separator_present_with_family_route_and_geometry(loaded, name, family, route):
    separator = Separator.objects.get(name=name)
    assert separator.primary_material.family == family or any(
        c.material.family == family for c in separator.components.all()
    )
    assert separator.processing_route == route
    if separator.form == "pellet":
        assert 300 <= separator.thickness_um <= 1000
    else:
        assert 30 <= separator.thickness_um <= 100
    assert separator.area_cm2 > 0


def test_sulfide_cells_have_densification_then_measurement_pressure(loaded):
    cell = Cell.objects.get(name="SS|Li6PS5Cl|SS (die)")
    steps = list(cell.pressure_steps.all())
    assert steps[0].phase == "densification" and 300 <= steps[0].pressure_mpa <= 500
    assert steps[-1].phase == "measurement" and 1 <= steps[-1].pressure_mpa <= 100


def test_temperature_series_spans_minus_20_to_80_c(loaded):
    cell = Cell.objects.get(name="Au|LLZTO|Au")
    temperatures = sorted(cell.spectra.values_list("temperature_c", flat=True))
    assert temperatures[0] == -20 and temperatures[-1] == 80 and len(temperatures) == 6


@pytest.mark.parametrize(
    "cell_name, low, high",
    [
        ("Au|LLZTO|Au", 3e-4, 1e-3),
        ("Au|LATP|Au", 1e-4, 1e-3),
        ("SS|Li6PS5Cl|SS (die)", 1e-3, 3e-3),
        ("SS|Li3InCl6|SS (die)", 0.7e-3, 1.5e-3),
        ("SS|PEO-LiTFSI|SS (pouch)", 1e-5, 1e-4),
    ],
)


def test_room_temperature_spectrum_low_frequency_intercept_gives_literature_conductivity(loaded, cell_name, low, high):
    """σ = L / (R·A) with R read off the spectrum where −Z'' is smallest between arcs and electrode spike."""
    cell = Cell.objects.get(name=cell_name)
    spectrum = ImpedanceSpectrum.objects.get(cell=cell, temperature_c=25)
    f, z = spectrum.frequencies_hz, spectrum.impedance_ohm
    window = f > 10  # above the electrode spike
    r_ohm = z.real[window][np.argmin(-z.imag[window])]
    separator = cell.separator
    sigma = separator.thickness_um * 1e-4 / (r_ohm * separator.area_cm2)
    assert low <= sigma <= high


def test_symmetric_cell_interface_resistance_grows(loaded):
    spectra = list(ImpedanceSpectrum.objects.filter(cell__name="Li|LATP|Li").order_by("cycle_index"))
    widths = [s.impedance_ohm.real.max() - s.impedance_ohm.real.min() for s in spectra]
    assert len(spectra) == 6 and widths == sorted(widths) and widths[-1] > 2 * widths[0]


def test_coated_interface_assignment_is_cross_validated_by_nmr_and_dft(loaded):
    interface = Interface.objects.get(name__startswith="Li|AlPO4|LATP")
    assert interface.interlayer_material.name == "AlPO4"
    assert interface.cross_validated_assignments == ["li3po4-like interphase"]


def test_visibility_showcase_private_group_and_embargoed(loaded):
    assert Separator.objects.filter(visibility=Visibility.PRIVATE).exists()
    assert Separator.objects.filter(visibility=Visibility.GROUP).exists()
    embargoed = Separator.objects.get(name="Li3InCl6 cold-pressed pellet")
    assert embargoed.embargo_until is not None and embargoed.cells.get().embargo_until == embargoed.embargo_until


def test_dc_polarisation_and_ccd_with_protocol(loaded):
    assert DCPolarisation.objects.count() == 1
    ccd = CriticalCurrentDensityTest.objects.filter(cell__name="Li|LLZTO|Li").get()
    assert ccd.step_ma_per_cm2 > 0 and ccd.capacity_per_half_cycle_mah_per_cm2 and ccd.failure_rule


def test_real_instrument_files_attached_as_raw_files(loaded, instrument_files):
    cell = Cell.objects.get(name=demo.INSTRUMENT_CELL_NAME)
    assert RawFile.objects.filter(cell=cell).count() == 19  # every parseable shared file; MissingFreq is rejected
    assert ImpedanceSpectrum.objects.filter(cell=cell, raw_file__isnull=False).count() == 19
