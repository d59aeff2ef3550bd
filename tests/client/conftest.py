"""The client and the harvester against pytest-django's live server: real HTTP, real API, no mocks."""
import pytest
from django.core.cache import cache

from apps.accounts.models import Visibility
from apps.accounts.services import create_api_token
from tests.factories import CellFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def server(live_server, standard_protocols) -> str:
    """The live server's URL, with the standard fit protocols installed (a transactional test flushes them)."""
    return live_server.url


@pytest.fixture
def member_key(member) -> str:
    return create_api_token(user=member, name="tests").key


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.GROUP)


@pytest.fixture
def db_client(server, member_key):
    from assbdb_client import Client

    with Client(server, member_key, backoff_s=0.01, max_backoff_s=0.05) as client:
        yield client
