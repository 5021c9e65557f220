"""Figures computed once per change for all processes that share Django's cache.

With a shared cache (``CACHE_URL``: Redis), several gunicorn workers that find the same
figures out of date at the same moment (the agreement report after a label was saved, the
review queue's scores of a project no process has in memory) would each compute them. Here the
first takes a lock in the cache (``cache.add``: only one process can add a key) and computes;
the others wait for the lock to go (polling the small lock key, not the figures), then read
what it stored. A waiter never shows older figures as current: it reads the stored value
through the caller's ``find``, which checks the value's fingerprint, and computes itself when
nothing current is there (the holder failed, or stored another version) or when the lock
outlives ``timeout`` seconds (the holder died: the lock expires with it).

Without ``CACHE_URL`` the cache is per process (Django's ``LocMemCache``): the lock then only
keeps a process's threads from computing twice, as before. A cache that is down is no error
either: every cache call here that fails counts as a miss, and the figures are computed.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOCK_SECONDS = 20.0  # longer than the slowest computation guarded here, shorter than a request
POLL_SECONDS = 0.05


def fingerprint_digest(fingerprint: object) -> str:
    """A short stable name for a fingerprint (its ``repr``), for lock keys."""
    return hashlib.blake2b(repr(fingerprint).encode(), digest_size=12).hexdigest()


def cache_is_shared() -> bool:
    """Whether ``caches["default"]`` outlives this process (Redis, Memcached, a table...):
    what is stored there is then worth it for the other processes."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def cache_get(key: str) -> Any:
    """``caches["default"].get(key)``, ``None`` when the cache cannot be reached."""
    try:
        return caches["default"].get(key)
    except Exception:  # a cache is an optimisation: down, it is a miss
        logger.warning("cache read of %s failed", key, exc_info=True)
        return None


def cache_set(key: str, value: object, timeout: float) -> None:
    """``caches["default"].set``, logged and ignored when the cache cannot be reached."""
    try:
        caches["default"].set(key, value, timeout)
    except Exception:
        logger.warning("cache write of %s failed", key, exc_info=True)


class ComputeLock:
    """The right to compute one version of some figures, held by at most one process.

    ``held`` says whether this process took it (``acquire``); ``wait`` blocks while another
    holds it; ``release`` gives it back (only if still ours: an expired lock may be
    another's by then).
    """

    def __init__(self, key: str, timeout: float = LOCK_SECONDS) -> None:
        self.key = key
        self.timeout = timeout
        self.token = uuid.uuid4().hex
        self.held = False

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; a cache that is down lets everyone compute."""
        try:
            self.held = bool(caches["default"].add(self.key, self.token, self.timeout))
        except Exception:
            logger.warning("cache lock %s failed", self.key, exc_info=True)
            self.held = True
        return self.held

    def wait(self) -> None:
        """Return once nobody holds the lock, or after ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if cache_get(self.key) is None:
                return
            time.sleep(POLL_SECONDS)

    def release(self) -> None:
        """Drop the lock if it is still ours (get then delete: in the rare case the lock
        expired in between and another process took it, that one computes twice, no worse)."""
        if not self.held:
            return
        self.held = False
        try:
            cache = caches["default"]
            if cache.get(self.key) == self.token:
                cache.delete(self.key)
        except Exception:
            logger.warning("cache unlock %s failed", self.key, exc_info=True)


def computed_once(
    lock_key: str,
    find: Callable[[], T | None],
    compute: Callable[[], T],
    *,
    timeout: float = LOCK_SECONDS,
    checked: bool = False,
) -> T:
    """``find()`` if it has the current figures, else ``compute()`` in one process only.

    ``compute`` must store what it computes where ``find`` looks. Processes that find the
    lock taken wait for it (up to ``timeout``) and ``find`` again; if there is still nothing
    current they compute themselves. Cache reads only: no database query is added.
    ``checked``: the caller has just called ``find`` and found nothing.
    """
    found = None if checked else find()
    if found is not None:
        return found
    lock = ComputeLock(lock_key, timeout)
    if not lock.acquire():
        lock.wait()
        found = find()
        if found is not None:
            return found
        lock.acquire()  # the holder stored nothing current: compute (and let others wait)
    try:
        return compute()
    finally:
        lock.release()
