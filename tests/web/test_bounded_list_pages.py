"""Web list pages at any size: counted like the API (exact up to a limit, then PostgreSQL's estimate), only
so many numbered pages (OFFSET reads every row before the page), per-cell counts for the page's cells only."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Visibility
from apps.catalog.models import Material
from apps.common.pagination import BoundedPaginator, count_rows
from tests.factories import CellFactory, MaterialFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


def test_count_rows_is_exact_up_to_the_limit_then_postgresqls_estimate():
    MaterialFactory.create_batch(8)
    if connection.vendor == "postgresql":  # statistics as autovacuum keeps them (a new table's guess is arbitrary)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Material._meta.db_table}")
    assert count_rows(Material.objects.all(), exact_limit=10) == (8, True)
    n, exact = count_rows(Material.objects.all(), exact_limit=5)
    if connection.vendor == "postgresql":
        assert not exact and n >= 6  # past the limit: the planner's estimate, never below what was counted
    else:  # SQLite, the embedded database: counts exactly
        assert (n, exact) == (8, True)


def test_only_the_first_pages_are_numbered(monkeypatch):
    MaterialFactory.create_batch(13)
    monkeypatch.setattr(BoundedPaginator, "MAX_PAGES", 3)
    paginator = BoundedPaginator(Material.objects.order_by("pk"), 2)
    assert (paginator.num_pages, paginator.all_pages, paginator.truncated) == (3, 7, True)
    assert paginator.get_page(6).number == 3  # a page past the numbered ones is the last numbered one
    assert not BoundedPaginator(Material.objects.order_by("pk"), 5).truncated  # 3 pages: all numbered


def test_a_list_page_past_the_numbered_pages_says_how_to_reach_the_rest(client, monkeypatch):
    MaterialFactory.create_batch(30)
    monkeypatch.setattr(BoundedPaginator, "MAX_PAGES", 1)
    html = client.get("/materials/").content.decode()
    assert "Only the first 1 page of 2 is numbered" in html and "cursor pages" in html
    assert "Only the first" not in client.get("/materials/?q=zzz-no-match").content.decode()


def test_cell_list_counts_visible_spectra_of_the_page_cells_only(client):
    shown = CellFactory(visibility=Visibility.PUBLIC, name="A cell")
    for visibility in (Visibility.PUBLIC, Visibility.PUBLIC, Visibility.PRIVATE):
        SpectrumFactory(cell=shown, group=shown.group, visibility=visibility)
    response = client.get("/cells/")
    assert [c.n_spectra for c in response.context["page"]] == [2]  # the private spectrum is not counted
    with CaptureQueriesContext(connection) as queries:
        client.get("/cells/")
    assert not [q["sql"] for q in queries if "measurements_impedancespectrum" in q["sql"]]  # no spectrum read
    counting = [q["sql"] for q in queries if "measurements_spectrumcount" in q["sql"]]
    assert len(counting) == 1 and "IN (" in counting[0]  # one sum of the kept counts, for the page's cells
