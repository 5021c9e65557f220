"""``CACHE_URL``: Django's own Redis cache when set, the local-memory cache per process when not."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.shared_cache import reachable, redis_url

ROOT = Path(__file__).resolve().parents[1]


def cache_in_a_process(**env: str) -> dict:
    """What annotator/settings.py makes of ``env``: the default cache's class and options,
    after storing ``written`` under the key ``settings-test`` (a fresh process)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "CACHE_KEY_PREFIX"}}
    clean.update({"SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "annotator.settings", **env})
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from django.core.cache import caches; c = caches['default']; "
        "c.set('settings-test', 'written', 30); "
        "print(json.dumps({'class': type(c).__module__ + '.' + type(c).__name__, "
        "'settings': settings.CACHES['default']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_cache_url_each_process_has_its_local_memory_cache():
    found = cache_in_a_process()
    assert found["class"] == "django.core.cache.backends.locmem.LocMemCache"


def test_cache_url_puts_the_cache_on_redis_under_the_key_prefix():
    url = redis_url()
    why = reachable(url)
    if why:
        pytest.skip(why)
    prefix = f"settings-test-{os.getpid()}"
    found = cache_in_a_process(CACHE_URL=url, CACHE_KEY_PREFIX=prefix)

    assert found["class"] == "django.core.cache.backends.redis.RedisCache"
    assert found["settings"]["LOCATION"] == url
    client = redis.Redis.from_url(url)
    key = f"{prefix}:1:settings-test"  # Django's key: prefix, version, key
    try:
        assert client.get(key) is not None  # another process can read it
        assert 0 < client.ttl(key) <= 30
    finally:
        client.delete(key)
