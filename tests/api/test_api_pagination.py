"""Keyset (cursor) pagination of the API lists: every row exactly once, in order, at any depth and in both
directions, for every offered ordering (ties and NULLs included)."""
import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.common.api import KeysetPagination
from apps.measurements.models import ImpedanceSpectrum
from tests.factories import CellFactory, SpectrumFactory, rc_spectrum

pytestmark = pytest.mark.django_db
TEMPERATURES = [25.0, None, 60.0, 25.0, -10.0, None, 25.0, 80.0, 60.0, 25.0, None, 40.0, 25.0]


@pytest.fixture
def spectra():
    """13 public spectra over two cells; temperatures with ties and NULLs, labels not in id order."""
    cells = [CellFactory(visibility=Visibility.PUBLIC) for _ in range(2)]
    return [
        SpectrumFactory(
            cell=cells[i % 2], group=cells[i % 2].group, visibility=Visibility.PUBLIC, temperature_c=t,
            label=f"EIS {(i * 5) % 13:02d}", index_in_file=(i * 7) % 4,
        )
        for i, t in enumerate(TEMPERATURES)
    ]


def walk(client, url: str) -> tuple[list[list[int]], str]:
    """Pages of ids following `next` from `url`; and the last page's URL."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        last, url = url, body["next"]
    return pages, last


def walk_back(client, url: str) -> list[list[int]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        url = body["previous"]
    return pages


def _largest_none(value):
    """NULL sorts as the largest value (last ascending, first descending) on every database."""
    return (value is None, value if value is not None else 0)


@pytest.mark.parametrize(
    "ordering, key",
    [
        ("temperature_c", lambda s: (_largest_none(s.temperature_c), s.pk)),
        ("-temperature_c", lambda s: (s.temperature_c is not None, -(s.temperature_c or 0), s.pk)),
        ("label", lambda s: (s.label, s.pk)),
        ("-pk", lambda s: -s.pk),
        ("temperature_c,-label", None),
        ("", lambda s: (s.cell_id, s.index_in_file, s.pk)),
    ],
)
@pytest.mark.parametrize("page_size", [1, 4, 13])
def test_following_next_visits_every_row_once_in_order(client, spectra, ordering, key, page_size):
    url = reverse("api:spectrum-list") + f"?page_size={page_size}" + (f"&ordering={ordering}" if ordering else "")
    pages, _ = walk(client, url)
    seen = [pk for page in pages for pk in page]
    assert sorted(seen) == sorted(s.pk for s in spectra)
    assert all(len(page) == page_size for page in pages[:-1])
    if key is not None:
        expected = sorted(spectra, key=key)  # ties broken by ascending id
        assert seen == [s.pk for s in expected]
    else:  # two fields: temperature ascending (NULL last), then label descending, then id
        by_pk = {s.pk: s for s in spectra}
        rows = [by_pk[pk] for pk in seen]
        assert [_largest_none(s.temperature_c) for s in rows] == sorted(_largest_none(s.temperature_c) for s in rows)
        for a, b in zip(rows, rows[1:]):
            if a.temperature_c == b.temperature_c:
                assert (a.label, -a.pk) >= (b.label, -b.pk)


@pytest.mark.parametrize("ordering", ["temperature_c", "-temperature_c", "-created_at"])
def test_previous_links_walk_the_same_pages_backwards(client, spectra, ordering):
    pages, last = walk(client, reverse("api:spectrum-list") + f"?page_size=3&ordering={ordering}")
    assert len(pages) == 5
    assert walk_back(client, last) == pages[::-1]


def test_first_page_has_no_previous_and_counts_rows(client, spectra):
    body = client.get(reverse("api:spectrum-list"), {"page_size": 5}).json()
    assert body["previous"] is None and body["next"]
    assert body["count"] == len(spectra) and body["count_exact"] is True
    assert len(body["results"]) == 5


def test_count_past_the_exact_limit_is_marked_as_estimate_on_postgresql(client, spectra, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "COUNT_EXACT_LIMIT", 3)
    body = client.get(reverse("api:spectrum-list"), {"page_size": 2}).json()
    if connection.vendor == "postgresql":
        assert body["count_exact"] is False and body["count"] >= 4
    else:  # SQLite, the embedded database: small enough to count exactly
        assert body["count_exact"] is True and body["count"] == len(spectra)


def test_a_first_page_holding_every_match_counts_its_rows_without_a_count_query(client, spectra):
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("api:spectrum-list"), {"cell": spectra[0].cell_id}).json()
    assert body["count"] == len(body["results"]) == 7 and body["count_exact"] is True and body["next"] is None
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
def test_count_far_above_the_limit_reads_no_rows(client, spectra, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(KeysetPagination, "COUNT_EXACT_LIMIT", 0)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("api:spectrum-list"), {"page_size": 2}).json()  # more than one page
    assert body["count_exact"] is False and body["count"] >= 1
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"]]  # the estimate alone, no bounded count


def test_filters_keep_applying_on_later_pages(client, spectra):
    pages, _ = walk(client, reverse("api:spectrum-list") + "?page_size=2&temperature_c_min=25")
    expected = sorted(s.pk for s in spectra if s.temperature_c is not None and s.temperature_c >= 25)
    assert sorted(pk for page in pages for pk in page) == expected


def test_page_size_is_capped_at_500(client):
    cell = CellFactory(visibility=Visibility.PUBLIC)
    data = ImpedanceSpectrum.pack(*rc_spectrum())
    ImpedanceSpectrum.objects.bulk_create(
        ImpedanceSpectrum(
            group=cell.group, visibility=Visibility.PUBLIC, cell=cell, data=data, n_points=50,
            frequency_min_hz=0.1, frequency_max_hz=1e6,
        )
        for _ in range(501)
    )
    body = client.get(reverse("api:spectrum-list"), {"page_size": 1000}).json()
    assert len(body["results"]) == 500 and body["next"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"p": [1]}).encode()).decode(),  # wrong number of terms
        base64.urlsafe_b64encode(json.dumps({"p": ["warm", 1]}).encode()).decode(),  # not a temperature
    ],
)
def test_a_forged_cursor_is_a_400_naming_the_cursor(client, spectra, cursor):
    response = client.get(reverse("api:spectrum-list"), {"cursor": cursor, "ordering": "temperature_c"})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_nested_list_of_a_cell_pages_by_cursor(client, spectra):
    cell_id = spectra[0].cell_id
    pages, _ = walk(client, reverse("api:cell-spectra", args=[cell_id]) + "?page_size=2")
    expected = sorted((s for s in spectra if s.cell_id == cell_id), key=lambda s: (s.index_in_file, s.pk))
    assert [pk for page in pages for pk in page] == [s.pk for s in expected]


def test_nested_list_of_a_cell_reads_kk_checks_with_the_spectra(client):
    """One query for the page's spectra and their checks, however many spectra: no query per row."""
    from tests.benchmarks.bench_factories import KramersKronigCheckFactory

    cell = CellFactory(visibility=Visibility.PUBLIC)
    url = reverse("api:cell-spectra", args=[cell.pk])

    def add(n):
        for _ in range(n):
            KramersKronigCheckFactory(spectrum=SpectrumFactory(cell=cell, group=cell.group, visibility=Visibility.PUBLIC))

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url).json()["results"]) == 2
    add(8)
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).json()
    assert len(body["results"]) == 10 and all(row["kk_verdict"] for row in body["results"])
    assert len(many) == len(few)
