"""Worker presence: a ``db_worker`` process says it is alive by refreshing its row.

The readiness probe (readiness.py) and the metrics (metrics.py) read these rows; the
overridden ``db_worker`` command (management/commands/db_worker.py) runs a
``PresenceThread`` for as long as the worker runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from annotator.ops.models import WorkerPresence

logger = logging.getLogger(__name__)

# How often a worker refreshes its row, in seconds; well under READY_WORKER_SECONDS.
PRESENCE_INTERVAL = 15.0
# Rows not refreshed for this long are of workers that died without cleaning up: pruned.
PRUNE_AFTER = timedelta(hours=1)


def this_worker_id() -> str:
    """``host:pid``: unique among the live processes of a deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_presence(worker_id: str) -> None:
    """Mark ``worker_id`` as seen now (creating its row), and prune rows of long-dead
    workers."""
    now = timezone.now()
    WorkerPresence.objects.update_or_create(
        worker_id=worker_id,
        defaults={"seen_at": now},
        create_defaults={"started_at": now, "seen_at": now},
    )
    WorkerPresence.objects.filter(seen_at__lt=now - PRUNE_AFTER).delete()


def forget_presence(worker_id: str) -> None:
    """Remove ``worker_id``'s row: the worker is stopping cleanly."""
    WorkerPresence.objects.filter(worker_id=worker_id).delete()


def live_workers_since(seconds: float):
    """The presence rows refreshed within the last ``seconds``."""
    return WorkerPresence.objects.filter(seen_at__gte=timezone.now() - timedelta(seconds=seconds))


def ready_worker_seconds() -> int:
    """How recently a worker must have been seen for the app to be ready (0: not checked)."""
    return int(getattr(settings, "READY_WORKER_SECONDS", 60))


class PresenceThread(threading.Thread):
    """A daemon thread that refreshes this process's presence row every ``interval``
    seconds, on a database connection of its own (Django's connections are per thread),
    closed after each refresh; ``stop()`` removes the row.

    A failed refresh (the database restarting) is logged and tried again at the next
    interval: the worker itself carries on, and readiness says so if it lasts.
    """

    def __init__(self, worker_id: str | None = None, interval: float = PRESENCE_INTERVAL):
        super().__init__(name="worker-presence", daemon=True)
        self.worker_id = worker_id or this_worker_id()
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while True:
                self._beat(record_presence)
                if self._stopping.wait(self.interval):
                    break
            self._beat(forget_presence)
        finally:
            connections.close_all()

    def _beat(self, action) -> None:
        try:
            action(self.worker_id)
        except Exception:  # any database error: try again next time
            logger.warning("Could not record the presence of worker %s", self.worker_id)
        finally:
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop refreshing and remove this worker's row (waits up to ``timeout`` seconds)."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
