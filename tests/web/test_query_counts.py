"""List pages cost a fixed number of queries however many rows they show (no N+1)."""
import pytest

from apps.accounts.models import Visibility
from tests.factories import InterfaceEvidenceFactory, InterfaceFactory, SeparatorFactory, SpectrumFactory

MAX_QUERIES = 14


@pytest.fixture
def many_records(group):
    for _ in range(30):
        separator = SeparatorFactory(group=group, visibility=Visibility.GROUP)
        spectrum = SpectrumFactory(group=group, cell__separator=separator, visibility=Visibility.GROUP)
        SpectrumFactory(group=group, cell=spectrum.cell, visibility=Visibility.GROUP)
        interface = InterfaceFactory(group=group, visibility=Visibility.GROUP)
        InterfaceEvidenceFactory(interface=interface)
        spectrum.cell.interfaces.add(interface)


@pytest.mark.parametrize("url", ["/", "/separators/", "/cells/", "/interfaces/", "/spectra/", "/materials/", "/jobs/", "/search/?q=LL"])
def test_list_page_queries_do_not_grow_with_rows(client, member, many_records, url, django_assert_max_num_queries):
    client.force_login(member)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
