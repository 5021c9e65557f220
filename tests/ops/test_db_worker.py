"""``manage.py db_worker`` is ours: django-tasks-db's worker that records its presence."""

import contextlib
import os
import signal
import time

import pytest
from django.core.management import get_commands
from django.test import Client

from annotator.ops.models import WorkerPresence
from tests.worker import database_tasks, database_url, finish, kill, start_worker, wait_for


def test_db_worker_is_the_ops_command():
    assert get_commands()["db_worker"] == "annotator.ops"


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_makes_readyz_ready_and_a_stopped_one_leaves_no_row(tmp_path):
    database_url()  # skips where the worker cannot share the test database
    client = Client()
    with database_tasks():
        assert client.get("/readyz").json()["worker"] == "missing"
        worker = start_worker(tmp_path)
        try:
            wait_for(
                lambda: client.get("/readyz").status_code == 200,
                timeout=60,
                what="readyz to see the worker",
                worker=worker,
                state=lambda: client.get("/readyz").json(),
            )
            (presence,) = WorkerPresence.objects.all()
            assert presence.worker_id.endswith(f":{worker.pid}")
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        finally:
            kill(worker)
        assert worker.returncode == 0
        assert not WorkerPresence.objects.exists()
        assert client.get("/readyz").json()["worker"] == "missing"


@pytest.mark.django_db(transaction=True)
def test_a_batch_worker_removes_its_row_when_it_runs_out_of_tasks(tmp_path):
    database_url()
    finish(start_worker(tmp_path, "--batch"))
    assert not WorkerPresence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_its_row_to_go_stale(tmp_path, settings):
    database_url()
    worker = start_worker(tmp_path)
    try:
        wait_for(lambda: WorkerPresence.objects.exists(), 60, "the worker's row", worker=worker)
    finally:
        kill(worker)
    assert WorkerPresence.objects.count() == 1  # pruned by the next live worker, later


@pytest.mark.django_db(transaction=True)
def test_with_reload_only_the_child_that_runs_tasks_records_its_presence(tmp_path):
    database_url()
    watcher = start_worker(tmp_path, "--reload")
    child = None
    try:
        wait_for(lambda: WorkerPresence.objects.exists(), 60, "the worker's row", worker=watcher)
        time.sleep(1)  # a second row would be the watcher's
        (presence,) = WorkerPresence.objects.all()
        child = int(presence.worker_id.rsplit(":", 1)[1])
        assert child != watcher.pid
    finally:
        kill(watcher)
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
