"""Worker presence rows: recorded, refreshed, pruned, and removed when the worker stops."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from annotator.ops.models import WorkerPresence
from annotator.ops.presence import (
    PRUNE_AFTER,
    PresenceThread,
    forget_presence,
    live_workers_since,
    record_presence,
    this_worker_id,
)
from tests.worker import wait_for


def test_the_worker_id_is_host_and_pid():
    import os
    import socket

    assert this_worker_id() == f"{socket.gethostname()}:{os.getpid()}"


def test_recording_creates_the_row_then_refreshes_it_keeping_its_start(db):
    record_presence("w:1")
    first = WorkerPresence.objects.get(worker_id="w:1")
    WorkerPresence.objects.update(seen_at=first.seen_at - timedelta(seconds=30))
    record_presence("w:1")
    again = WorkerPresence.objects.get(worker_id="w:1")
    assert again.started_at == first.started_at
    assert again.seen_at >= first.seen_at
    assert WorkerPresence.objects.count() == 1


def test_recording_prunes_workers_that_died_long_ago(db):
    long_ago = timezone.now() - PRUNE_AFTER - timedelta(minutes=1)
    WorkerPresence.objects.create(worker_id="dead:1", started_at=long_ago, seen_at=long_ago)
    WorkerPresence.objects.create(
        worker_id="quiet:2", seen_at=timezone.now() - timedelta(minutes=5)
    )
    record_presence("w:1")
    assert set(WorkerPresence.objects.values_list("worker_id", flat=True)) == {"w:1", "quiet:2"}


def test_forgetting_removes_only_that_worker(db):
    record_presence("w:1")
    record_presence("w:2")
    forget_presence("w:1")
    assert list(WorkerPresence.objects.values_list("worker_id", flat=True)) == ["w:2"]


def test_live_workers_are_those_seen_recently(db):
    WorkerPresence.objects.create(worker_id="a:1", seen_at=timezone.now())
    WorkerPresence.objects.create(worker_id="b:2", seen_at=timezone.now() - timedelta(seconds=90))
    assert [w.worker_id for w in live_workers_since(60)] == ["a:1"]


def seen_at(worker_id: str):
    """The row's ``seen_at`` (None: no row), read while the thread writes. The test database
    on SQLite is in memory with a shared cache, which locks whole tables: a read that meets
    the thread's write says "table is locked" (a file database in WAL mode never does), and
    counts as not seen yet."""
    try:
        return (
            WorkerPresence.objects.filter(worker_id=worker_id)
            .values_list("seen_at", flat=True)
            .first()
        )
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        return None


@pytest.mark.django_db(transaction=True)
def test_the_thread_keeps_the_row_fresh_on_its_own_connection_and_removes_it_on_stop():
    thread = PresenceThread(worker_id="t:1", interval=0.05)
    thread.start()
    try:
        wait_for(lambda: seen_at("t:1") is not None, 10, "a row")
        first = seen_at("t:1")
        while first is None:  # locked at that instant
            first = seen_at("t:1")
        wait_for(lambda: (seen_at("t:1") or first) > first, 10, "a refresh")
    finally:
        thread.stop()
    assert not thread.is_alive()
    assert not WorkerPresence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_thread_survives_a_failed_refresh(monkeypatch):
    calls = []

    def flaky(worker_id):
        calls.append(worker_id)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        record_presence(worker_id)

    monkeypatch.setattr("annotator.ops.presence.record_presence", flaky)
    thread = PresenceThread(worker_id="t:2", interval=0.05)
    thread.start()
    try:
        wait_for(lambda: WorkerPresence.objects.filter(worker_id="t:2").exists(), 10, "a row")
    finally:
        thread.stop()
    assert len(calls) >= 2
