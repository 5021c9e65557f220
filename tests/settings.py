"""Settings for the test run: production settings plus a test key and inline tasks.

Tests run with DEBUG off, like production. Environment variables still win, so CI points
the same suite at PostgreSQL with DATABASE_URL.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
os.environ.setdefault("LOCAL_DIR", os.path.join(os.path.dirname(__file__), "..", ".local", "test"))
# With CACHE_URL, each test process (an xdist worker) keys the cache under a prefix of its own,
# which the processes it starts (tests/worker.py) inherit: see the end of this file.
os.environ["CACHE_KEY_PREFIX"] = f"test-{os.getpid()}"  # tests.shared_cache.process_prefix()

from annotator.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing

# django-axes needs the request in every authenticate() call, which the test client's
# force_login and other tests do not pass; the lockout tests turn it on (tests/test_lockout.py).
AXES_ENABLED = False

# --- Shared cache: with CACHE_URL (CI's PostgreSQL run) the suite runs on Redis. Each test
# process keys under its own prefix (above), and clearing the cache drops only its own keys
# (tests/shared_cache.py), so workers sharing one Redis database never collide.
if CACHE_URL:  # noqa: F405
    CACHES["default"]["BACKEND"] = "tests.shared_cache.PrefixedRedisCache"  # noqa: F405
