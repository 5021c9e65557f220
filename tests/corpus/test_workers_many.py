"""Several ``manage.py db_worker`` processes on one database: every job runs exactly once,
and a job whose worker was killed is failed by the worker that is left, then runs again.

django-tasks-db claims a task in one transaction: ``SELECT ... FOR UPDATE SKIP LOCKED``
of the oldest ready row, then an UPDATE to RUNNING. On PostgreSQL a row locked by another
worker is skipped, and one that another worker claimed and committed no longer matches
``status = READY`` when the lock is granted (READ COMMITTED re-checks the row), so it is
skipped too. SQLite ignores FOR UPDATE, but the claim runs in an EXCLUSIVE transaction, so
claims run one at a time. What the library cannot know is that two task rows name one job
(a job enqueued twice): the tasks claim their job with a conditional UPDATE for that.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from annotator.corpus.models import Comment, ImportJob
from annotator.corpus.tasks import NOT_QUEUED, enqueue_import, import_job_task, retry_import
from annotator.datasets.jobs import create_export_job
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportOptions
from annotator.datasets.tasks import enqueue_export
from tests.datasets.corpus import make_labelled_corpus
from tests.factories import ProjectFactory, UserFactory
from tests.worker import (
    database_tasks,
    database_url,
    database_write_locked,
    kill,
    start_worker,
    wait_for,
)
from tests.worker_tasks import record_run

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 3


def wait_until_started(worker: subprocess.Popen, timeout: float = 120) -> None:
    """Read the worker's output until it says it started polling (its first log line)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while b"Starting worker" not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or worker.poll() is not None:
            kill(worker)
            pytest.fail(f"the worker did not start:\n{seen.decode(errors='replace')[-3000:]}")
        ready, _, _ = select.select([worker.stdout], [], [], remaining)
        if ready:
            seen += os.read(worker.stdout.fileno(), 65536)


@contextmanager
def workers(media: Path, count: int = WORKERS) -> Iterator[dict[str, subprocess.Popen]]:
    """``count`` workers polling the test database, by worker id; killed at the end."""
    started = {
        f"worker-{n}": start_worker(media, "--worker-id", f"worker-{n}") for n in range(count)
    }
    try:
        for worker in started.values():
            wait_until_started(worker)
        yield started
    finally:
        for worker in started.values():
            kill(worker)


def task_rows() -> list[tuple[str, list[str]]]:
    return list(DBTaskResult.objects.values_list("status", "worker_ids"))


def all_finished() -> bool:
    return not DBTaskResult.objects.exclude(
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED]
    ).exists()


def thread(article: str, comments: int) -> bytes:
    """One article and ``comments`` comments in chains of five, as JSON Lines."""
    records = [{"type": "article", "id": article, "title": f"Article {article}"}]
    for i in range(comments):
        records.append(
            {
                "type": "comment",
                "id": f"{article}-c{i}",
                "article_id": article,
                "parent_id": f"{article}-c{i - 1}" if i % 5 else None,
                "text": f"comment {i} of {article} " + "word " * 15,
            }
        )
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def import_job(project, data: bytes, name: str = "thread.jsonl") -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        file=ContentFile(data, name=name),
        original_name=name,
        total_bytes=len(data),
    )


@pytest.fixture
def media(settings, tmp_path) -> Path:
    database_url()  # skips where the workers cannot share the test database
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_three_workers_run_every_job_exactly_once(media, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    importing = ProjectFactory(slug="importing")
    exporting = ProjectFactory(slug="exporting")
    make_labelled_corpus(exporting)
    imports = [import_job(importing, thread(f"a{n}", 20), f"t{n}.jsonl") for n in range(6)]
    exports = [create_export_job(exporting, None, ExportOptions()) for _ in range(4)]

    with workers(media) as started:
        # All at once, to the three idle workers: each poll races the two others.
        with database_tasks():
            for n in range(30):
                record_run.enqueue(str(runs), n, 0.05)
            for job in imports:
                enqueue_import(job)
            for job in exports:
                enqueue_export(job)
        wait_for(all_finished, timeout=180, what="every task to finish", state=task_rows)
        assert all(worker.poll() is None for worker in started.values())

    rows = task_rows()
    assert len(rows) == 40
    assert {status for status, _ in rows} == {TaskResultStatus.SUCCESSFUL}
    # Each task was claimed once, by one worker ...
    assert all(len(worker_ids) == 1 for _, worker_ids in rows)
    # ... and ran once: one file per number, from the process that claimed it.
    files = sorted(path.name for path in runs.iterdir())
    assert sorted(int(name.split("-")[0]) for name in files) == list(range(30))
    pids = {name.split("-")[1] for name in files}
    assert pids <= {str(worker.pid) for worker in started.values()}
    assert len(pids) > 1, "one worker ran everything: the workers never raced"
    for job in imports:
        job.refresh_from_db()
        assert (job.status, job.comments_added) == (ImportJob.Status.SUCCEEDED, 20), job.error
    assert Comment.objects.filter(article__project=importing).count() == 6 * 20
    for job in exports:
        job.refresh_from_db()
        assert job.status == ExportJob.Status.SUCCEEDED, job.error
        assert job.file.size == job.size_bytes > 0


def test_an_import_enqueued_twice_is_run_by_one_worker_only(media):
    project = ProjectFactory(slug="twice")
    size = 20_000
    job = import_job(project, thread("a", size))

    with workers(media):
        with database_tasks():
            # Two task rows for one job (a double click, a retried enqueue): two idle
            # workers claim them at the same moment.
            enqueue_import(job)
            import_job_task.enqueue(job.pk)
        wait_for(all_finished, timeout=180, what="both tasks to finish", state=task_rows)

    assert [status for status, _ in task_rows()] == [TaskResultStatus.SUCCESSFUL] * 2
    # One task ran the job; the other found it taken (each says so on its row).
    outcomes = sorted(DBTaskResult.objects.values_list("return_value", flat=True))
    assert outcomes == [NOT_QUEUED, ImportJob.Status.SUCCEEDED]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    # A second run would have found every comment there and recorded 0 added.
    assert job.comments_added == size == Comment.objects.count()


def test_a_killed_workers_import_is_failed_by_another_worker_and_runs_again_there(
    media, settings, monkeypatch
):
    settings.JOB_STALE_AFTER = 3
    monkeypatch.setenv("JOB_STALE_AFTER", "3")  # for the workers
    project = ProjectFactory(slug="killed-many")
    admin = UserFactory(username="kai_admin")
    size = 150_000  # seconds of work (30,000 took 0.7 s on PostgreSQL: too quick to catch)
    job = import_job(project, thread("big", size), "big.jsonl")

    with workers(media, 2) as started:
        with database_tasks():
            enqueue_import(job)

        def importing() -> bool:
            """In the middle: progress reported on PostgreSQL; on SQLite, whose progress
            stops when the write transaction starts, the write lock held."""
            running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)
            if connection.vendor == "sqlite":
                return running.exists() and database_write_locked()
            return running.filter(processed_bytes__gt=0).exists()

        wait_for(
            importing,
            timeout=120,
            what="the import to be running",
            state=lambda: ImportJob.objects.filter(pk=job.pk).values()[0],
        )
        (claimer,) = DBTaskResult.objects.get().worker_ids
        kill(started[claimer])
        (survivor,) = [worker for name, worker in started.items() if name != claimer]
        time.sleep(settings.JOB_STALE_AFTER + 0.5)

        # The worker that is left fails the dead one's job when it starts its next task.
        small = import_job(project, thread("small", 5), "small.jsonl")
        with database_tasks():
            enqueue_import(small)
        wait_for(all_finished, timeout=120, what="the small import", worker=survivor)

        job.refresh_from_db()
        assert job.worker_stopped
        assert Comment.objects.count() == 5  # nothing of the killed import
        statuses = dict(DBTaskResult.objects.values_list("args_kwargs__args__0", "status"))
        assert statuses == {job.pk: TaskResultStatus.FAILED, small.pk: TaskResultStatus.SUCCESSFUL}

        settings.IMPORT_BACKGROUND_BYTES = 1024  # the retry goes to the worker too
        with database_tasks():
            retry = retry_import(job, admin)
        wait_for(all_finished, timeout=180, what="the retry", worker=survivor)

    retry.refresh_from_db()
    assert retry.status == ImportJob.Status.SUCCEEDED, retry.error
    assert retry.comments_added == size
    assert Comment.objects.count() == size + 5
