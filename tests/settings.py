"""Settings for the test run: production settings plus a test key and inline tasks.

Tests run with DEBUG off, like production. Environment variables still win, so CI points
the same suite at PostgreSQL with DATABASE_URL.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
os.environ.setdefault("LOCAL_DIR", os.path.join(os.path.dirname(__file__), "..", ".local", "test"))

from annotator.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing

# django-axes needs the request in every authenticate() call, which the test client's
# force_login and other tests do not pass; the lockout tests turn it on (tests/test_lockout.py).
AXES_ENABLED = False
