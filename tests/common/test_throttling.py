"""The throttles' request log in Redis: DRF's sliding-window rule, one atomic call, DRF's Retry-After."""
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIRequestFactory

from apps.common.cache import RedisCache
from apps.common.throttling import AnonRateThrottle


@pytest.fixture
def redis_cache():
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs a Redis broker (CELERY_BROKER_URL=redis://…), as in CI's PostgreSQL + Redis run")
    cache = RedisCache(url, {})
    try:
        cache.redis_client().ping()
    except Exception as exc:  # noqa: BLE001 - any connection failure means no Redis to test against
        pytest.skip(f"Redis at {url} not reachable: {exc}")
    return cache


@pytest.fixture
def throttle(redis_cache, monkeypatch):
    """A 3-a-minute anonymous throttle on the Redis cache, for one made-up address, with a clock the test sets."""
    address = f"test-{uuid.uuid4().hex}"
    clock = [1_000_000.0]
    monkeypatch.setattr(AnonRateThrottle, "rate", "3/min", raising=False)
    monkeypatch.setattr(AnonRateThrottle, "cache", redis_cache)
    monkeypatch.setattr(AnonRateThrottle, "timer", lambda self: clock[0])
    monkeypatch.setattr(AnonRateThrottle, "get_cache_key", lambda self, request, view: f"throttle_anon_{address}")
    log_key = redis_cache.make_and_validate_key(f"throttle_anon_{address}_log")
    yield clock, lambda: redis_cache.redis_client().zcard(log_key)
    redis_cache.redis_client().delete(log_key)


def _allowed(clock_s: float, clock: list) -> tuple[bool, float | None]:
    clock[0] = clock_s
    request = APIRequestFactory().get("/api/v1/materials/")
    request.user = AnonymousUser()
    check = AnonRateThrottle()
    allowed = check.allow_request(request, view=None)
    return allowed, None if allowed else check.wait()


def test_redis_log_refuses_the_request_past_the_limit_until_the_oldest_leaves_the_window(throttle):
    throttle, logged = throttle
    assert [_allowed(t, throttle)[0] for t in (1_000_000.0, 1_000_010.0, 1_000_020.0)] == [True, True, True]
    allowed, wait_s = _allowed(1_000_030.0, throttle)
    assert not allowed and wait_s == pytest.approx(30.0)  # the first request leaves the minute 30 s later
    assert _allowed(1_000_059.0, throttle)[0] is False  # refused requests are not logged: still 3 in the minute
    assert logged() == 3  # the log is Redis's sorted set, not DRF's pickled list
    assert _allowed(1_000_060.0, throttle)[0] is True  # the first one is exactly a minute old: out, as in DRF
    assert _allowed(1_000_061.0, throttle)[0] is False
