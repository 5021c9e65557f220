"""gunicorn server hooks for prometheus_client's multiprocess mode.

With several gunicorn workers each process keeps its own request counters and latency
histograms; with PROMETHEUS_MULTIPROC_DIR set (an empty directory, before gunicorn starts)
they write them there and ``/metrics`` sums them. Use as a config file::

    gunicorn annotator.wsgi -c python:annotator.ops.gunicorn_hooks --workers 3

Without PROMETHEUS_MULTIPROC_DIR the hooks do nothing.
"""

from __future__ import annotations

import os
from pathlib import Path


def on_starting(server) -> None:
    """Empty the directory: files of a previous run would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (its counters stay in the sums, as they should)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
