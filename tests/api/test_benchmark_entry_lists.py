"""Benchmark entries in lists: an entry names every record it was computed from (a big separator's entry names
hundreds of thousands), so a list shows the first ids of each list, says how many more there are, and checks
visibility for those only; the entry's own URL names them all."""
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Visibility
from apps.benchmarks.models import IDS_IN_DETAILS
from tests.factories import BenchmarkEntryFactory, CellFactory, SeparatorFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


def test_a_list_shows_the_first_ids_of_each_list_and_the_entry_shows_them_all(client, monkeypatch):
    monkeypatch.setattr("apps.benchmarks.models.IDS_IN_DETAILS", 4)
    monkeypatch.setattr("apps.benchmarks.selectors._IDS_PER_QUERY", 3)  # SQLite: the ids checked in several queries
    separator = SeparatorFactory(visibility=Visibility.PUBLIC)
    cell = CellFactory(group=separator.group, separator=separator, visibility=Visibility.PUBLIC)
    visibilities = [Visibility.PUBLIC, Visibility.PRIVATE, Visibility.PUBLIC, Visibility.PUBLIC, Visibility.PUBLIC,
                    Visibility.PRIVATE, Visibility.PUBLIC]
    spectra = [SpectrumFactory(cell=cell, group=cell.group, visibility=v) for v in visibilities]
    ids = [s.pk for s in spectra]
    entry = BenchmarkEntryFactory(separator=separator, details={"spectrum_ids": ids, "n_spectra": len(ids)})

    listed = client.get("/api/v1/benchmark-entries/").json()["results"][0]["details"]
    assert listed["spectrum_ids"] == [ids[0], ids[2], ids[3]]  # the first 4 looked at, the private one left out
    assert listed["hidden_records"] == 1 and listed["spectrum_ids_not_listed"] == 3

    whole = client.get(f"/api/v1/benchmark-entries/{entry.pk}/").json()["details"]
    assert whole["spectrum_ids"] == [i for i, v in zip(ids, visibilities) if v == Visibility.PUBLIC]
    assert whole["hidden_records"] == 2 and "spectrum_ids_not_listed" not in whole


def test_a_list_reads_no_more_ids_than_it_shows(client):
    separator = SeparatorFactory(visibility=Visibility.PUBLIC)
    many = list(range(10_000_000, 10_000_000 + 50 * IDS_IN_DETAILS))  # ids of records that need not exist
    BenchmarkEntryFactory(separator=separator, details={"conductivity_ids": many})
    with CaptureQueriesContext(connection) as queries:
        details = client.get("/api/v1/benchmark-entries/").json()["results"][0]["details"]
    assert details["conductivity_ids"] == [] and details["hidden_records"] == IDS_IN_DETAILS
    assert details["conductivity_ids_not_listed"] == 49 * IDS_IN_DETAILS
    looked_up = [q["sql"] for q in queries if "analysis_conductivity" in q["sql"]]
    assert looked_up and all(q.count("10000") <= IDS_IN_DETAILS for q in looked_up)
    assert not [q["sql"] for q in queries if "record_ids" in q["sql"]]  # the whole lists stay in the database


def test_an_export_of_entries_names_the_first_ids_and_the_entry_all_of_them(client):
    separator = SeparatorFactory(visibility=Visibility.PUBLIC)
    many = list(range(10_000_000, 10_000_000 + 3 * IDS_IN_DETAILS))
    entry = BenchmarkEntryFactory(separator=separator, details={"conductivity_ids": many, "n_spectra": 7})
    response = client.get("/api/v1/benchmark-entries/export/?format=json")
    exported = json.loads(b"".join(response.streaming_content))["results"][0]["details"]
    assert exported["n_spectra"] == 7 and exported["conductivity_ids_not_listed"] == 2 * IDS_IN_DETAILS
    whole = client.get(f"/api/v1/benchmark-entries/{entry.pk}/").json()["details"]
    assert whole["hidden_records"] == 3 * IDS_IN_DETAILS and "conductivity_ids_not_listed" not in whole
