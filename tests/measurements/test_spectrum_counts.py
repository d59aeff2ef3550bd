"""Spectrum counts per cell kept by database triggers (`SpectrumCount`): every viewer's count of a cell's spectra
is what counting the spectra they may see gives, after inserts, bulk inserts, deletes and changes of visibility,
embargo, group or cell; folding the rows keeps every sum."""
import datetime

import pytest
from django.db import connection
from django.db.models import Count

from apps.accounts.models import Visibility
from apps.catalog.models import Cell
from apps.measurements.models import ImpedanceSpectrum, SpectrumCount
from apps.measurements.selectors import visible_spectra, visible_spectrum_count_of_cell, visible_spectrum_counts
from apps.measurements.services import compact_spectrum_counts
from tests.factories import CellFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


def assert_counts_match_the_spectra(viewers, cells):
    for viewer in viewers:
        expected = dict(
            visible_spectra(user=viewer).filter(cell__in=cells).order_by().values("cell_id")
            .annotate(n=Count("pk")).values_list("cell_id", "n")
        )
        assert visible_spectrum_counts(user=viewer, cell_ids=[c.pk for c in cells]) == expected, viewer
        annotated = dict(
            Cell.objects.filter(pk__in=[c.pk for c in cells])
            .annotate(n=visible_spectrum_count_of_cell(user=viewer)).values_list("pk", "n")
        )
        assert annotated == {c.pk: expected.get(c.pk, 0) for c in cells}, viewer


def test_counts_follow_every_write_for_every_viewer(group, owner, member, outsider):
    cells = [CellFactory(group=group, visibility=Visibility.PUBLIC) for _ in range(2)]
    viewers = (None, owner, member, outsider)
    spectra = [
        SpectrumFactory(cell=cells[i % 2], group=group, visibility=visibility, created_by=owner)
        for i, visibility in enumerate([Visibility.PUBLIC, Visibility.GROUP, Visibility.PRIVATE, Visibility.PUBLIC])
    ]
    ImpedanceSpectrum.objects.bulk_create([  # one statement, several rows
        SpectrumFactory.build(cell=cells[1], group=group, visibility=Visibility.PUBLIC) for _ in range(3)
    ])
    assert_counts_match_the_spectra(viewers, cells)

    ImpedanceSpectrum.objects.filter(pk=spectra[1].pk).update(visibility=Visibility.PUBLIC)
    ImpedanceSpectrum.objects.filter(pk=spectra[0].pk).update(embargo_until=datetime.date(2099, 1, 1))
    ImpedanceSpectrum.objects.filter(pk=spectra[3].pk).update(embargo_until=datetime.date(2020, 1, 1),
                                                              visibility=Visibility.GROUP)
    ImpedanceSpectrum.objects.filter(pk=spectra[2].pk).update(cell=cells[1])
    spectra[0].label = "renamed"
    spectra[0].save()  # a save rewrites every column: the classes must not move
    assert_counts_match_the_spectra(viewers, cells)

    ImpedanceSpectrum.objects.filter(cell=cells[1], visibility=Visibility.PUBLIC).delete()
    spectra[0].delete()
    assert_counts_match_the_spectra(viewers, cells)

    cells[0].delete()  # its spectra go with it
    assert_counts_match_the_spectra(viewers, cells[1:])
    assert visible_spectrum_counts(user=owner, cell_ids=[cells[0].pk]) == {}


def test_folding_keeps_every_sum_and_leaves_one_row_per_class(group, owner):
    cell = CellFactory(group=group, visibility=Visibility.PUBLIC)
    for visibility in [Visibility.PUBLIC] * 4 + [Visibility.GROUP] * 2:
        SpectrumFactory(cell=cell, group=group, visibility=visibility)
    ImpedanceSpectrum.objects.filter(visibility=Visibility.GROUP).delete()  # a class that sums to 0
    before = {viewer: visible_spectrum_counts(user=viewer, cell_ids=[cell.pk]) for viewer in (None, owner)}
    removed = compact_spectrum_counts()
    assert {viewer: visible_spectrum_counts(user=viewer, cell_ids=[cell.pk]) for viewer in (None, owner)} == before
    assert before[None] == {cell.pk: 4}
    rows = list(SpectrumCount.objects.filter(cell_id=cell.pk).values_list("visibility", "n"))
    assert rows == [(Visibility.PUBLIC, 4)]
    if connection.vendor == "postgresql":  # one signed row per statement: 6 inserts and a delete, folded
        assert removed == 7 - 1
    else:  # SQLite's row triggers keep one row per class: only the emptied class goes
        assert removed == 1


def test_the_api_orders_cells_by_their_visible_spectra(client, group):
    cells = [CellFactory(group=group, visibility=Visibility.PUBLIC, name=f"cell {i}") for i in range(3)]
    for cell, (public, hidden) in zip(cells, [(1, 5), (3, 0), (2, 2)]):
        for _ in range(public):
            SpectrumFactory(cell=cell, group=group, visibility=Visibility.PUBLIC)
        for _ in range(hidden):
            SpectrumFactory(cell=cell, group=group, visibility=Visibility.GROUP)
    body = client.get("/api/v1/cells/", {"ordering": "-n_spectra"}).json()
    assert [(row["name"], row["n_spectra"]) for row in body["results"]] == [("cell 1", 3), ("cell 2", 2), ("cell 0", 1)]


def test_folding_runs_on_the_beat_schedule():
    from assbdb.celery import app

    app.loader.import_default_modules()  # what a starting worker does: the apps' task modules
    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == "measurements.compact_spectrum_counts"]
    assert entries and entries[0]["schedule"] <= 3600
    assert "measurements.compact_spectrum_counts" in app.tasks
