"""Heartbeats of background jobs, and failing the jobs whose worker died.

django-tasks-db never reclaims a task left RUNNING by a worker that was killed (OOM, a
deploy, a reboot), so without this an import or export would say "running" for ever. A
running job writes ``heartbeat_at`` on its row as it makes progress (with its progress
writes, so it costs no extra query); a job whose last heartbeat is older than
``settings.JOB_STALE_AFTER`` seconds is failed by ``fail_stale``. That is called when the
job's page or the log is polled (the user sees it at once), when a worker starts a task and
by ``manage.py fail_stale_jobs``. The last two also fail a job still queued whose task a
worker claimed over that long ago: it died before the task took the job (``orphans``).

The failing is one conditional UPDATE (still running, still stale), and a job finishing
records its outcome with the mirror condition (still running), so a late worker and the
reaper never both win; an import also records its success inside its write transaction,
so a reaped import rolls back instead of committing rows under a "nothing was imported".

django-tasks-db's own row of the task (``DBTaskResult``) is left RUNNING by a killed worker
too, so the reaper fails it as well (``fail_task_results``): the worker's table and the
admin then agree with the job. A job names its task by path (``TASK``), and the task's
argument is the job's id, which is the link between the two rows.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.utils import timezone

logger = logging.getLogger(__name__)

RUNNING = "running"  # the same value in ImportJob.Status and ExportJob.Status
READING = "reading"  # an import reading a scraped-text thread for its preview
WORKING = (RUNNING, READING)  # the states in which a job has a worker that must beat
FAILED = "failed"
QUEUED = "queued"  # waiting for a worker (ImportJob.Status, ExportJob.Status)
SQLITE_LOCK_WAIT_MS = 200  # how long the reaper waits for SQLite's write lock


class WorkerStopped(Exception):
    """What a task row failed by the reaper says it raised: its worker stopped."""


def stale_cutoff(now: datetime | None = None) -> datetime:
    """Heartbeats older than this belong to jobs whose worker is gone."""
    return (now or timezone.now()) - timedelta(seconds=settings.JOB_STALE_AFTER)


def stale(cutoff: datetime) -> models.Q:
    """Running jobs with no heartbeat since ``cutoff`` (rows started before heartbeats
    existed count from their start)."""
    return models.Q(status__in=WORKING) & (
        models.Q(heartbeat_at__lt=cutoff)
        | models.Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def fail_stale(queryset: models.QuerySet, message: str, *, orphans: bool = False) -> list[int]:
    """Fail the stale running jobs of ``queryset`` with ``message``; return their ids.

    Each job is failed by its own conditional UPDATE, so a heartbeat written meanwhile, or
    the job finishing, keeps it alive. On SQLite a live import holds the write lock during
    its write transaction (when it cannot write heartbeats); the UPDATE then gives up after
    a moment and the job is left alone, which is right: someone is writing.

    With ``orphans`` (a worker starting a task, ``fail_stale_jobs``; one more query, so not
    on every poll of a page) the queued jobs whose task a worker claimed over the stale time
    ago are failed too: the worker died between claiming the task and the task taking its
    job, which it does at once (models with ``TAKEN_AT_TASK_START``).
    """
    now = timezone.now()
    cutoff = stale_cutoff(now)
    candidates = [
        (pk, stale(cutoff)) for pk in queryset.filter(stale(cutoff)).values_list("pk", flat=True)
    ]
    if orphans and getattr(queryset.model, "TAKEN_AT_TASK_START", False):
        queued = models.Q(status=QUEUED)
        orphaned = queryset.filter(queued, pk__in=claimed_before(queryset.model.TASK, cutoff))
        candidates += [(pk, queued) for pk in orphaned.values_list("pk", flat=True)]
    failed = []
    for pk, condition in candidates:
        changed = False  # stays so when SQLite's lock is held by a live writer
        with _short_lock_wait():
            changed = (
                queryset.model.objects.filter(condition, pk=pk).update(
                    status=FAILED, finished_at=now, error=message
                )
                > 0
            )
        if changed:
            failed.append(pk)
    task = getattr(queryset.model, "TASK", None)
    if failed and task:
        fail_task_results(task, failed, message)
    return failed


def claimed_before(task_path: str, cutoff: datetime) -> list[int]:
    """The job ids of the task ``task_path``'s rows that a worker claimed before ``cutoff``
    and that never finished or failed (a backend without the table, or a refusal: none).
    Only queued jobs are failed for them, so a job a failed task had taken is left alone."""
    if not apps.is_installed("django_tasks_db"):
        return []
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    # RUNNING: the worker died holding it; FAILED: the task raised before it took its job
    # (the database gone at that instant). Either way nothing will run the queued job.
    rows = DBTaskResult.objects.filter(
        task_path=task_path,
        status__in=[TaskResultStatus.RUNNING, TaskResultStatus.FAILED],
        started_at__lt=cutoff,
    )
    # A savepoint inside a caller's transaction (a refusal must not break it on PostgreSQL);
    # none outside, where on SQLite it would wait for the write lock a live import holds.
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with savepoint:
            arguments = list(rows.values_list("args_kwargs", flat=True))
    except DatabaseError:
        logger.warning("could not read the task rows of %s", task_path, exc_info=True)
        return []
    return [
        args[0]
        for args in (value.get("args") or [] for value in arguments)
        if args and isinstance(args[0], int)
    ]


def fail_task_results(task_path: str, job_ids: list[int], message: str) -> int:
    """Fail django-tasks-db's RUNNING rows of the task ``task_path`` for ``job_ids``.

    A worker that was killed leaves its task row RUNNING for ever, as it leaves the job; the
    row is found by the task's path and its one argument, the job's id. Rows that are gone,
    a backend without the table, or a database that refuses are no reason to leave the job
    running: they are logged and skipped. Returns the number of task rows failed.
    """
    if not apps.is_installed("django_tasks_db"):
        return 0
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    running = DBTaskResult.objects.filter(task_path=task_path, status=TaskResultStatus.RUNNING)
    failed = 0
    try:
        for job_id in job_ids:
            # A savepoint: a refusal must not break the caller's transaction on PostgreSQL.
            with _short_lock_wait(), transaction.atomic():
                failed += running.filter(args_kwargs={"args": [job_id], "kwargs": {}}).update(
                    status=TaskResultStatus.FAILED,
                    finished_at=timezone.now(),
                    exception_class_path=f"{__name__}.{WorkerStopped.__qualname__}",
                    traceback=f"{WorkerStopped.__qualname__}: {message}\n",
                    return_value=None,
                )
    except DatabaseError:
        logger.warning("could not fail the task rows of %s %s", task_path, job_ids, exc_info=True)
    return failed


@contextlib.contextmanager
def _short_lock_wait() -> Iterator[None]:
    """On SQLite, wait only briefly for the write lock; a lock held means a live writer."""
    if connection.vendor != "sqlite":
        yield
        return
    normal = int(settings.DATABASES["default"].get("OPTIONS", {}).get("timeout", 5) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_LOCK_WAIT_MS}")
    try:
        yield
    except OperationalError as error:
        if "locked" not in str(error):
            raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {normal}")


class StoppableJob:
    """What ImportJob and ExportJob share about a worker that stopped: failing the job when
    its heartbeat is stale, and knowing that it failed so (worth running again). The model
    has ``Status``, ``WORKER_STOPPED`` and a manager whose querysets have ``fail_stale``."""

    def fail_if_stale(self) -> bool:
        """Fail this job if it is running and its worker stopped; refresh it if so."""
        if self.status not in WORKING:
            return False
        if not type(self).objects.filter(pk=self.pk).fail_stale():
            return False
        self.refresh_from_db()
        return True

    @property
    def worker_stopped(self) -> bool:
        """Failed because its worker died, not because of its file or options: worth
        running again."""
        return self.status == FAILED and self.error == self.WORKER_STOPPED


class BeatApart:
    """Writes a job row's progress and heartbeat through a database connection of its own.

    A job that works inside one transaction on PostgreSQL (an import's write, an export)
    cannot beat on its own connection: the update would stay invisible until the commit and
    would hold the row, so a page polling it (which may fail a stale job) would wait for the
    whole job. This connection commits each update at once and never waits more than 200 ms
    on the row (a timeout of the update's own transaction): a skipped beat is better than a
    stuck job. Only the rows still in ``status`` (when given) are touched. ``close()`` when
    the job ends.
    """

    def __init__(self, model: type[models.Model], pk: int, *, status: str | None = None):
        self.table = connection.ops.quote_name(model._meta.db_table)
        self.label = f"{model._meta.verbose_name} {pk}"
        self.pk = pk
        self.status = status
        self._connection = None

    def write(self, **values: object) -> None:
        """Set ``values`` (column → value) and ``heartbeat_at`` on the row; log a failure."""
        assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in values)
        sql = f"UPDATE {self.table} SET {assignments}, heartbeat_at = %s WHERE id = %s"
        parameters = [*values.values(), timezone.now(), self.pk]
        if self.status is not None:
            sql += " AND status = %s"
            parameters.append(self.status)
        try:
            if self._connection is None:
                self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
                self._connection.set_autocommit(False)
            # The timeout lasts this transaction (SET LOCAL): behind a pooler in transaction
            # mode (PgBouncer) a session's SET would stay on the server connection, for the
            # next client to inherit.
            with self._connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                cursor.execute(sql, parameters)
            self._connection.commit()
        except Exception:
            logger.warning("could not write the progress of %s", self.label)
            with contextlib.suppress(Exception):
                self._connection.rollback()

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
