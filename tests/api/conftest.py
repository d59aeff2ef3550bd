"""API test fixtures: a client per role, and a clean throttle count per test."""
import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import MembershipFactory

ROLES = ["anonymous", "outsider", "member", "owner"]


def future_day() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=30)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counters live in the cache; each test starts with none spent."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def uploader(group):
    """The member who created the records (private records are seen by them and the group's owners)."""
    return MembershipFactory(group=group, role="member").user


@pytest.fixture
def users(owner, member, outsider):
    return {"anonymous": None, "outsider": outsider, "member": member, "owner": owner}


@pytest.fixture
def client_for(users):
    def make(role: str) -> APIClient:
        client = APIClient()
        if users[role] is not None:
            client.force_authenticate(users[role])
        return client

    return make

