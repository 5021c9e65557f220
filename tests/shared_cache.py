"""A real Redis for the tests of the shared cache, kept apart per test process.

Several pytest-xdist workers (and a CI run beside a developer's) share one Redis database, so
every test process keys under a prefix of its own (``process_prefix``) and ``clear()`` drops only
those keys: Django's ``RedisCache.clear`` would flush the whole database, other workers'
entries and locks with it.

``TEST_REDIS_URL`` names the Redis the shared-cache tests use (default: ``CACHE_URL`` when the
run is on Redis anyway, else database 6 of the local server); they skip, saying why, when it
cannot be reached.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

BACKEND = "tests.shared_cache.PrefixedRedisCache"


def process_prefix() -> str:
    """This test process's key prefix (a process id is unique among running processes)."""
    return f"test-{os.getpid()}"


def redis_url() -> str:
    return (
        os.environ.get("TEST_REDIS_URL")
        or os.environ.get("CACHE_URL")
        or ("redis://127.0.0.1:6379/6")
    )


class PrefixedRedisCache(RedisCache):
    """Django's Redis cache whose ``clear`` deletes only the keys under its own prefix."""

    def clear(self) -> None:
        client = self._cache.get_client(write=True)
        pattern = f"{self.key_prefix}:*" if self.key_prefix else "*"
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)


def cache_settings(url: str, prefix: str) -> dict:
    return {"default": {"BACKEND": BACKEND, "LOCATION": url, "KEY_PREFIX": prefix}}


def reachable(url: str) -> str | None:
    """None if Redis answers at ``url``, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as error:
        return f"no Redis at {url} ({error}); set TEST_REDIS_URL to one"
    return None


@contextmanager
def shared_cache(prefix: str | None = None) -> Iterator[dict[str, str]]:
    """This process on the real Redis (empty under ``prefix``); yields the environment a
    subprocess needs to share it (``CACHE_URL``, ``CACHE_KEY_PREFIX``). Skips without Redis."""
    url = redis_url()
    why = reachable(url)
    if why:
        pytest.skip(why)
    prefix = prefix or f"{process_prefix()}-shared"
    with override_settings(CACHES=cache_settings(url, prefix)):
        from django.core.cache import caches

        caches["default"].clear()
        try:
            yield {"CACHE_URL": url, "CACHE_KEY_PREFIX": prefix}
        finally:
            caches["default"].clear()
