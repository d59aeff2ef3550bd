"""Spectra on one sweep share one stored frequency grid; their arrays read back bit for bit."""
import importlib
from types import SimpleNamespace

import numpy as np
import pytest
from django.apps import apps as django_apps
from django.db import connection

from apps.measurements.models import FrequencyGrid, ImpedanceSpectrum
from apps.measurements.services import create_spectra_from_arrays
from tests.factories import CellFactory, SpectrumFactory

migration = importlib.import_module("apps.measurements.migrations.0006_frequency_grids")


def _sweep(seed: int, f=None):
    rng = np.random.default_rng(seed)
    f = np.logspace(6, -1, 57) * (1 + 1e-9 * rng.normal(size=57)) if f is None else f
    z = 1e3 * rng.normal(size=f.size) + 1j * rng.normal(size=f.size) * 10.0 ** rng.integers(-3, 6, f.size)
    z[3] = complex(5e-324, 0.0)  # the smallest subnormal and a zero survive
    return f, z


def _item(f, z):
    return {"frequencies_hz": f.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist()}


def test_spectra_on_one_sweep_share_one_grid_and_read_back_exactly(group, member):
    cell = CellFactory(group=group)
    f, z1 = _sweep(1)
    _, z2 = _sweep(2)
    other_f, z3 = _sweep(3, f=np.logspace(5, 0, 57))
    created = create_spectra_from_arrays(cell=cell, user=member, spectra=[_item(f, z1), _item(f, z2), _item(other_f, z3)],
                                         analyse=False)
    assert FrequencyGrid.objects.count() == 2
    stored = [ImpedanceSpectrum.objects.get(pk=s.pk) for s in created]
    assert stored[0].frequency_grid_id == stored[1].frequency_grid_id != stored[2].frequency_grid_id
    assert len(bytes(stored[0].data)) == 16 * f.size  # Z', Z'' only
    for spectrum, (freq, z) in zip(stored, [(f, z1), (f, z2), (other_f, z3)]):
        assert spectrum.frequencies_hz.tobytes() == np.asarray(freq, "<f8").tobytes()
        assert spectrum.impedance_ohm.real.tobytes() == z.real.tobytes()
        assert spectrum.impedance_ohm.imag.tobytes() == z.imag.tobytes()


@pytest.mark.django_db
def test_spectrum_packed_with_its_frequencies_still_reads():
    spectrum = SpectrumFactory()
    assert spectrum.frequency_grid_id is None and len(bytes(spectrum.data)) == 24 * spectrum.n_points
    assert ImpedanceSpectrum.objects.get(pk=spectrum.pk).frequencies_hz.size == spectrum.n_points


@pytest.mark.django_db
def test_migration_moves_frequencies_into_grids_and_back_exactly():
    spectra = [SpectrumFactory(), SpectrumFactory()]
    packed = {s.pk: bytes(ImpedanceSpectrum.objects.get(pk=s.pk).data) for s in spectra}
    editor = SimpleNamespace(connection=connection)
    migration.share_grids(django_apps, editor)
    moved = {s.pk: ImpedanceSpectrum.objects.get(pk=s.pk) for s in spectra}
    assert all(s.frequency_grid_id is not None for s in moved.values())
    assert FrequencyGrid.objects.count() == 1  # the factory's spectra share one sweep
    for pk, spectrum in moved.items():
        n = spectrum.n_points
        assert bytes(spectrum.data) == packed[pk][8 * n:]
        assert spectrum.frequencies_hz.tobytes() == packed[pk][: 8 * n]
    migration.pack_grids_back(django_apps, editor)
    assert {s.pk: bytes(ImpedanceSpectrum.objects.get(pk=s.pk).data) for s in spectra} == packed
