"""A Redis cache that never fails a request because Redis is away.

Everything we keep in the cache is a convenience that can be recomputed or skipped: the API's
rate-throttle histories, the "a summary refresh is already queued" marker. None of it is a
record (sessions, login lockouts and Idempotency-Key answers live in the database). So while
Redis is down a read is a miss and a write is dropped, logged at most once a minute, instead of
a 500 on every request of every clerk. What that turns off while Redis is down is written in
docs/decisions.md ("Faults").
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60.0


class ResilientRedisCache(RedisCache):
    """Django's ``RedisCache``; a Redis error is a miss (reads) or a no-op (writes)."""

    _last_logged = 0.0

    def _degraded(self, operation: str, exc: Exception, fallback):
        now = time.monotonic()
        if now - ResilientRedisCache._last_logged >= LOG_EVERY_SECONDS:
            ResilientRedisCache._last_logged = now
            logger.warning("cache unavailable (%s: %s); carrying on without it", operation, exc)
        return fallback

    def _guard(self, operation: str, fallback, call, *args, **kwargs):
        from redis.exceptions import RedisError

        try:
            return call(*args, **kwargs)
        except (RedisError, OSError) as exc:
            return self._degraded(operation, exc, fallback)

    def get(self, key, default=None, version=None):
        return self._guard("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._guard("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._guard("has_key", False, super().has_key, key, version)

    # ``add`` answers True when Redis is away: its callers use it as "nobody else is doing this
    # yet", and doing idempotent work twice beats never doing it.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard("add", True, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard("set", None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard("set_many", list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._guard("delete", False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        return self._guard("delete_many", None, super().delete_many, keys, version)

    def incr(self, key, delta=1, version=None):
        # A missing key raises ValueError in Django's contract; so does an unreachable one.
        from redis.exceptions import RedisError

        try:
            return super().incr(key, delta, version)
        except (RedisError, OSError) as exc:
            self._degraded("incr", exc, None)
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from exc

    def clear(self):
        return self._guard("clear", False, super().clear)


def redis_cache(url: str) -> dict:
    """The ``CACHES`` entry for Redis at ``url``: short socket timeouts, so a Redis that hangs
    rather than refuses costs a request one second, not the default five."""
    return {
        "BACKEND": "registration_portal.cache.ResilientRedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
