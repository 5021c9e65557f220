"""A real ``manage.py db_worker`` in a subprocess, on the test database, for the kill tests.

The suite runs tasks with the immediate backend; these tests need the database backend, a
worker process of its own that can be SIGKILLed, and a database both processes share
(PostgreSQL, or SQLite in a file: an in-memory SQLite test database cannot be shared).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[1]
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def database_url() -> str:
    """The test database as a ``DATABASE_URL`` for the worker; skips when it cannot share."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(config["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            pytest.skip("the worker process cannot share an in-memory SQLite database")
        return f"sqlite:///{name}"
    if connection.vendor != "postgresql":
        pytest.skip(f"no kill test on {connection.vendor}")
    auth = config["USER"] or ""
    if config.get("PASSWORD"):
        auth += f":{config['PASSWORD']}"
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{config['NAME']}"


@contextmanager
def database_tasks() -> Iterator[None]:
    """Enqueue into the database (for the worker) instead of running tasks at once."""
    with override_settings(TASKS=DB_BACKEND):
        yield


def start_worker(media_root: Path, *args: str) -> subprocess.Popen:
    """A ``db_worker`` on the test database with the production settings and ``media_root``."""
    command = ["db_worker", "--no-startup-delay", "--interval", "0.1"]
    return start_manage(media_root, *command, *args)


def start_manage(media_root: Path, *args: str, **popen) -> subprocess.Popen:
    """``manage.py ARGS`` on the test database with the production settings and
    ``media_root``; its output (stdout and stderr together) is piped."""
    env = {key: value for key, value in os.environ.items() if key not in {"TASKS_BACKEND", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="annotator.settings",
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(media_root),
        SECRET_KEY="kill-test",
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **popen,
    )


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer or a lost machine does: no cleanup runs."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    worker=None,
    state: Callable[[], object] = lambda: "",
) -> None:
    """Poll ``condition`` until it holds; fail with ``what``, ``state()`` and the worker's
    output (a failure on a loaded machine should say where things were)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None and worker.poll() is not None:
            output = worker.stdout.read().decode(errors="replace") if worker.stdout else ""
            pytest.fail(f"the worker exited before {what} ({state()}):\n{output[-3000:]}")
        time.sleep(0.05)
    output = ""
    if worker is not None:
        kill(worker)
        output = worker.stdout.read().decode(errors="replace") if worker.stdout else ""
    pytest.fail(f"timed out waiting for {what} ({state()}):\n{output[-3000:]}")


def database_write_locked() -> bool:
    """Whether another process holds SQLite's write lock (an import's write transaction)."""
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()
    return False


def finish(worker: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for a ``--batch`` worker to run its tasks and exit; its output."""
    output, _ = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, output.decode(errors="replace")[-3000:]
    return output.decode(errors="replace")
