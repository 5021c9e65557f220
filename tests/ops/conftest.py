"""Fixtures of the operations tests: the S3-compatible store (tests/s3_server.py) for /readyz,
and a local cache unless a test configures another."""

import pytest

from tests.s3_server import s3_endpoint, s3_store  # noqa: F401 - fixtures used by name


@pytest.fixture(autouse=True)
def local_cache(settings):
    """/readyz checks a shared cache only when one is configured, and CI's PostgreSQL run
    configures Redis (CACHE_URL): each test starts from the local one and sets its own."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
