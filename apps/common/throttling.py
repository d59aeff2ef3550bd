"""API throttles: anonymous clients by address (DRF's AnonRateThrottle), signed-in users by account, their
request logs kept in Redis when the cache is Redis (`SharedLogThrottleMixin`)."""
import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from rest_framework import throttling

from .cache import RedisCache

# DRF's sliding log (requests within the last `duration` seconds, at most `limit`) as one atomic Redis call.
# Returns {1, count} when the request is let through (and logged), {0, count, oldest timestamp} when not.
SLIDING_LOG_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return {1, count + 1}
end
return {0, count, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
"""
_scripts = {}  # one registered script per shared Redis client


class SharedLogThrottleMixin:
    """DRF's throttle with its log of request times in a Redis sorted set, checked and extended in one atomic
    call, when the cache is Redis (production). DRF keeps the log as one pickled list that every request reads
    and writes whole (two round trips; at 10,000 requests an hour, 80 kB each way), and two workers that read
    it at once both let their request through. Same rule and Retry-After; other caches use DRF's own code."""

    def allow_request(self, request, view):
        cache = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache  # the backend, not a proxy
        if self.rate is None or not isinstance(cache, RedisCache):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        client = cache.redis_client()
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(SLIDING_LOG_SCRIPT)
        log_key = cache.make_and_validate_key(f"{self.key}_log")  # not the pickled list DRF's code keeps
        answer = script(keys=[log_key], args=[repr(self.now), repr(self.now - self.duration), self.num_requests,
                                              self.duration, f"{self.now!r}-{secrets.token_hex(4)}"])
        if answer[0] == 1:
            return True
        count, oldest = int(answer[1]), float(answer[2]) if answer[2] is not None else self.now
        self.history = [oldest] * count  # what DRF's wait() reads: how many, and the oldest last
        return self.throttle_failure()


class AnonRateThrottle(SharedLogThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous clients, by address."""


class MemberRateThrottle(SharedLogThrottleMixin, throttling.UserRateThrottle):
    """DRF's UserRateThrottle for signed-in users only. DRF's also counts anonymous clients by address, under the
    looser user rate, beside AnonRateThrottle's count of the same address: two cache reads and writes per request
    that can never refuse one."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
