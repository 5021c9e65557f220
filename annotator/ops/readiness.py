"""The readiness checks behind ``/readyz``: each answers with a word, never a detail.

A load balancer sends traffic to a replica only while every check says "ok"; the body names
each check and its state and nothing else (no versions, hosts or errors), since the
endpoint is unauthenticated. Failures are logged here, without their messages' secrets
reaching the response.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend

from annotator.ops.presence import live_workers_since, ready_worker_seconds

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
MISSING = "missing"  # no worker seen recently
PENDING = "pending"  # migrations not applied
TIMEOUT = "timeout"

# Caches that live in the process (or nowhere): nothing to reach, nothing to check.
LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
LOCAL_STORAGE = "django.core.files.storage.FileSystemStorage"

# The cache and the store are reached over the network from threads of their own, so a
# hung connection costs the probe READY_CHECK_TIMEOUT seconds, not the request. Two
# threads: one check each; a stuck one makes later probes time out too, which is the truth.
_remote_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")

# Databases whose migrations were all applied: they do not come undone while the process
# runs, so the (slow) check is made until it passes once, then never again.
_migrated: set[str] = set()


def forget_migrations() -> None:
    """Check the migrations again at the next probe (for tests)."""
    _migrated.clear()


def check_database(alias: str = DEFAULT_DB_ALIAS) -> str:
    """Whether the database answers ``SELECT 1``."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means not ready
        logger.warning("Readiness: the database did not answer", exc_info=True)
        return FAILED
    return OK


def check_migrations(alias: str = DEFAULT_DB_ALIAS) -> str:
    """Whether every migration on disk is applied to the database."""
    if alias in _migrated:
        return OK
    try:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        logger.warning("Readiness: could not read the applied migrations", exc_info=True)
        return FAILED
    if plan:
        return PENDING
    _migrated.add(alias)
    return OK


def worker_checked() -> bool:
    """Whether readiness needs a worker: tasks go to the database backend (so someone must
    run ``db_worker``) and READY_WORKER_SECONDS is not 0."""
    return ready_worker_seconds() > 0 and isinstance(
        task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend
    )


def check_worker() -> str:
    """Whether a ``db_worker`` refreshed its presence within READY_WORKER_SECONDS."""
    try:
        seen = live_workers_since(ready_worker_seconds()).exists()
    except Exception:
        logger.warning("Readiness: could not read the worker presence", exc_info=True)
        return FAILED
    return OK if seen else MISSING


def cache_checked() -> bool:
    """Whether a shared cache is configured (CACHE_URL): one outside this process."""
    return settings.CACHES["default"]["BACKEND"] not in LOCAL_CACHES


def _cache_round_trip() -> bool:
    cache = caches["default"]
    key = f"ops:readyz:{get_random_string(12)}"
    value = get_random_string(12)
    try:
        cache.set(key, value, timeout=30)
        answered = cache.get(key) == value
        cache.delete(key)
        return answered
    finally:
        cache.close()


def store_checked() -> bool:
    """Whether uploads go to an object store (STORAGE_BUCKET) rather than local disk."""
    return settings.STORAGES["default"]["BACKEND"] != LOCAL_STORAGE


def _store_reachable() -> bool:
    try:
        from annotator.corpus.uploads import store_reachable
    except ImportError:
        store_reachable = None
    if store_reachable is not None:
        return bool(store_reachable())
    storages["default"].exists("readyz-probe")
    return True


def _remote(check, name: str) -> str:
    """Run ``check`` in a probe thread, waiting at most READY_CHECK_TIMEOUT seconds."""
    timeout = float(getattr(settings, "READY_CHECK_TIMEOUT", 2.0))
    future = _remote_checks.submit(check)
    try:
        return OK if future.result(timeout=timeout) else FAILED
    except FutureTimeout:
        logger.warning("Readiness: the %s did not answer within %ss", name, timeout)
        return TIMEOUT
    except Exception:
        logger.warning("Readiness: the %s is not reachable", name, exc_info=True)
        return FAILED


def check_cache() -> str:
    """Whether the shared cache takes a key and gives it back."""
    return _remote(_cache_round_trip, "cache")


def check_store() -> str:
    """Whether the object store answers."""
    return _remote(_store_reachable, "store")


def readiness() -> dict[str, str]:
    """Each configured check's name and state; ready when every state is "ok"."""
    states = {"database": check_database()}
    if states["database"] == OK:
        states["migrations"] = check_migrations()
        if worker_checked():
            states["worker"] = check_worker()
    else:
        # Without the database nothing else that lives there can be known.
        states["migrations"] = FAILED
        if worker_checked():
            states["worker"] = FAILED
    if cache_checked():
        states["cache"] = check_cache()
    if store_checked():
        states["store"] = check_store()
    return states


def is_ready(states: dict[str, str]) -> bool:
    """Whether every check passed."""
    return all(state == OK for state in states.values())
