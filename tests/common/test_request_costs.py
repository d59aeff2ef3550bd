"""What the API read path skips: the FilterSet when no filter is named, the user throttle for anonymous
clients, and a new Redis client per cache call."""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from rest_framework.test import APIRequestFactory

from apps.accounts.models import Visibility
from apps.common.cache import ReusedRedisCacheClient
from apps.common.throttling import MemberRateThrottle
from apps.measurements.filters import SpectrumFilterSet
from tests.factories import CellFactory, SpectrumFactory, UserFactory


@pytest.fixture
def filtersets_built(monkeypatch) -> list:
    built = []
    original = SpectrumFilterSet.__init__

    def recording(self, *args, **kwargs):
        built.append(kwargs.get("data"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(SpectrumFilterSet, "__init__", recording)
    return built


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"page_size": 2, "ordering": "-temperature_c"}, {"search": "EIS"}])
def test_lists_without_a_filter_parameter_do_not_build_the_filterset(client, filtersets_built, params):
    cell = CellFactory(visibility=Visibility.PUBLIC)
    spectrum = SpectrumFactory(cell=cell, group=cell.group, visibility=Visibility.PUBLIC, label="EIS 1")
    response = client.get(reverse("api:spectrum-list"), params)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [spectrum.pk]
    assert filtersets_built == []


@pytest.mark.django_db
def test_a_filter_parameter_still_goes_through_the_filterset(client, filtersets_built):
    cell = CellFactory(visibility=Visibility.PUBLIC)
    SpectrumFactory(cell=cell, group=cell.group, visibility=Visibility.PUBLIC, temperature_c=10)
    warm = SpectrumFactory(cell=cell, group=cell.group, visibility=Visibility.PUBLIC, temperature_c=30)
    response = client.get(reverse("api:spectrum-list"), {"temperature_c_min": 20})
    assert [row["id"] for row in response.json()["results"]] == [warm.pk]
    assert len(filtersets_built) == 1


@pytest.mark.django_db
def test_user_throttle_counts_signed_in_users_only():
    request = APIRequestFactory().get("/api/v1/spectra/")
    request.user = AnonymousUser()
    assert MemberRateThrottle().get_cache_key(request, view=None) is None
    request.user = UserFactory()
    assert MemberRateThrottle().get_cache_key(request, view=None) == f"throttle_user_{request.user.pk}"


def test_redis_cache_client_is_built_once_per_pool():
    pytest.importorskip("redis")
    cache = ReusedRedisCacheClient(["redis://127.0.0.1:6379/0"])  # building a client does not connect
    assert cache.get_client(write=True) is cache.get_client(write=True)
