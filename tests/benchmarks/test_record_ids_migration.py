"""The data step of the migration that keeps an entry's whole id lists apart from its details moves stored rows
both ways (run here on the current models, which have both columns, as the migration's state does)."""
import importlib

import pytest
from django.apps import apps

from tests.factories import BenchmarkEntryFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.benchmarks.migrations.0005_entry_record_ids_apart")


def test_whole_id_lists_move_to_record_ids_and_back():
    spectra = list(range(1, 251))
    stored = {"spectrum_ids": spectra, "cell_ids": [4, 5], "n_spectra": 250, "flag_notes": {}}
    big = BenchmarkEntryFactory(details=stored, record_ids={})  # a row as the previous schema left it
    plain = BenchmarkEntryFactory(details={"n_points": 3}, record_ids={}, metric="activation_energy")

    migration.move_record_ids(apps, None, model="benchmarks.BenchmarkEntry")
    big.refresh_from_db()
    plain.refresh_from_db()
    assert big.details == {"spectrum_ids": spectra[:20], "spectrum_ids_not_listed": 230, "cell_ids": [4, 5],
                           "n_spectra": 250, "flag_notes": {}}
    assert big.record_ids == {"spectrum_ids": spectra, "cell_ids": [4, 5]}
    assert plain.details == {"n_points": 3} and plain.record_ids == {}
    assert big.all_details() == stored

    migration.put_record_ids_back(apps, None, model="benchmarks.BenchmarkEntry")
    big.refresh_from_db()
    assert big.details == stored
