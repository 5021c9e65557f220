"""Tasks for the tests that run real ``db_worker`` processes (tests/worker.py).

They live under tests/ and are found by the worker by their path, like the app's own tasks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django_tasks import task  # Django 6: from django.tasks import task


@task()
def record_run(directory: str, number: int, seconds: float = 0.0) -> int:
    """Leave a file ``NUMBER-PID`` in ``directory`` (refused if this process already ran
    ``number``: the file exists), after ``seconds`` of work; return the worker's pid."""
    time.sleep(seconds)
    pid = os.getpid()
    with (Path(directory) / f"{number}-{pid}").open("x") as run:
        run.write(str(time.time()))
    return pid
