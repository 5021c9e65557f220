"""The readiness checks themselves: the store check's two ways, and what "ready" means."""

from unittest import mock

import pytest
from django.core.cache import caches

from annotator.corpus import uploads
from annotator.ops import readiness

REDIS_DB7 = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/7",
        "KEY_PREFIX": "ops-readiness-tests",
    }
}


def test_ready_means_every_check_ok():
    assert readiness.is_ready({"database": "ok", "migrations": "ok"})
    assert not readiness.is_ready({"database": "ok", "worker": "missing"})
    assert not readiness.is_ready({"database": "ok", "cache": "timeout"})


@pytest.mark.parametrize("reachable, state", [(True, "ok"), (False, "failed")])
def test_the_store_check_asks_the_uploads_module_when_it_can(monkeypatch, reachable, state):
    asked = mock.Mock(return_value=reachable)
    monkeypatch.setattr(uploads, "store_reachable", asked, raising=False)
    assert readiness.check_store() == state
    asked.assert_called_once_with()


def test_the_store_check_counts_an_exception_as_unreachable(monkeypatch):
    monkeypatch.setattr(
        uploads, "store_reachable", mock.Mock(side_effect=OSError("bucket.internal")), raising=False
    )
    assert readiness.check_store() == "failed"


def test_without_the_uploads_function_the_store_check_asks_the_default_storage(monkeypatch):
    monkeypatch.delattr(uploads, "store_reachable", raising=False)
    storage = mock.Mock()
    monkeypatch.setattr(readiness, "storages", {"default": storage})
    assert readiness.check_store() == "ok"
    storage.exists.assert_called_once_with("readyz-probe")
    storage.exists.side_effect = ConnectionError("no route")
    assert readiness.check_store() == "failed"


def test_the_cache_check_leaves_no_key_behind(settings):
    settings.CACHES = REDIS_DB7
    try:
        assert readiness.check_cache() == "ok"
        assert caches["default"]._cache.get_client().keys("ops-readiness-tests:*") == []
    finally:
        caches["default"].close()


def test_a_local_cache_and_local_storage_are_not_checked(settings):
    assert not readiness.cache_checked()
    assert not readiness.store_checked()
    settings.CACHES = REDIS_DB7
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    }
    assert readiness.cache_checked()
    assert readiness.store_checked()
