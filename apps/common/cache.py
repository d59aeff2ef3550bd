"""Django's Redis cache with one client object per connection pool, built once instead of on every call."""
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedRedisCacheClient(RedisCacheClient):
    """Django builds a new ``redis.Redis`` for every cache call (about 1 ms each: it fills its table of reply
    parsers); the throttles call the cache twice per API request. A Redis client is safe to share between threads
    (each command takes a connection from the pool), so one per pool does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient

    def redis_client(self):
        """The shared ``redis.Redis`` of the write pool, for commands Django's cache API lacks (the throttles')."""
        return self._cache.get_client(write=True)
