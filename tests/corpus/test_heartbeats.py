"""Failing the jobs whose worker died: stale heartbeats only, one conditional UPDATE each."""

import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from annotator.corpus.heartbeats import BeatApart, WorkerStopped, fail_stale
from annotator.corpus.models import ImportJob
from annotator.corpus.tasks import import_job_task
from tests.worker import database_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOB_STALE_AFTER = 60


def running_job(project, heartbeat_age: float | None, started_age: float = 600) -> ImportJob:
    """A running import whose last heartbeat was ``heartbeat_age`` seconds ago (None: never)."""
    now = timezone.now()
    return ImportJob.objects.create(
        project=project,
        file=ContentFile(b"{}", name="thread.jsonl"),
        original_name="thread.jsonl",
        status=ImportJob.Status.RUNNING,
        started_at=now - timedelta(seconds=started_age),
        heartbeat_at=None if heartbeat_age is None else now - timedelta(seconds=heartbeat_age),
    )


def test_a_running_job_without_a_heartbeat_for_the_stale_time_is_failed(project):
    job = running_job(project, heartbeat_age=61)

    assert fail_stale(ImportJob.objects.all(), "gone") == [job.pk]

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.error == "gone"
    assert job.finished_at is not None


def test_a_job_with_a_recent_heartbeat_is_alive_however_long_it_has_run(project):
    job = running_job(project, heartbeat_age=1, started_age=3600)

    assert fail_stale(ImportJob.objects.all(), "gone") == []

    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING


def test_a_job_from_before_heartbeats_counts_from_its_start(project):
    old = running_job(project, heartbeat_age=None, started_age=120)
    young = running_job(project, heartbeat_age=None, started_age=5)

    assert fail_stale(ImportJob.objects.all(), "gone") == [old.pk]
    young.refresh_from_db()
    assert young.status == ImportJob.Status.RUNNING


def test_finished_and_queued_jobs_are_never_touched(project):
    done = running_job(project, heartbeat_age=600)
    ImportJob.objects.filter(pk=done.pk).update(status=ImportJob.Status.SUCCEEDED)
    queued = running_job(project, heartbeat_age=600)
    ImportJob.objects.filter(pk=queued.pk).update(status=ImportJob.Status.QUEUED)

    assert fail_stale(ImportJob.objects.all(), "gone") == []
    assert set(ImportJob.objects.values_list("status", flat=True)) == {"succeeded", "queued"}


def test_a_heartbeat_written_between_the_check_and_the_update_keeps_the_job_alive(
    project, monkeypatch
):
    job = running_job(project, heartbeat_age=600)
    real_filter = ImportJob.objects.filter
    calls = []

    def beat_then_filter(*args, **kwargs):
        # The reaper's candidate list is read; then the worker beats before the UPDATE.
        calls.append(kwargs)
        if len(calls) == 1:
            real_filter(pk=job.pk).update(heartbeat_at=timezone.now())
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(ImportJob.objects, "filter", beat_then_filter)

    assert fail_stale(ImportJob.objects.all(), "gone") == []
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING


def test_the_model_helpers_say_when_a_job_lost_its_worker(project):
    job = running_job(project, heartbeat_age=61)

    assert job.fail_if_stale() is True
    assert job.worker_stopped
    assert job.error == ImportJob.WORKER_STOPPED
    assert job.fail_if_stale() is False  # already failed


# --- django-tasks-db's own row of the task ------------------------------------------------------


def claimed_task_row(job: ImportJob):
    """The job's task enqueued into django-tasks-db and claimed, as a worker leaves it when it
    is killed mid-task."""
    from django_tasks_db.models import DBTaskResult

    from annotator.corpus.tasks import import_job_task
    from tests.worker import database_tasks

    with database_tasks():
        result = import_job_task.enqueue(job.pk)
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim("killed-worker")
    return row


def test_the_reaper_fails_the_task_row_a_killed_worker_left_running(project):
    from django_tasks.base import TaskResultStatus

    dead = running_job(project, heartbeat_age=61)
    alive = running_job(project, heartbeat_age=1)
    dead_row, alive_row = claimed_task_row(dead), claimed_task_row(alive)

    assert ImportJob.objects.fail_stale() == [dead.pk]

    dead_row.refresh_from_db()
    assert dead_row.status == TaskResultStatus.FAILED
    assert dead_row.finished_at is not None
    assert dead_row.task_result.errors[0].exception_class is WorkerStopped
    assert ImportJob.WORKER_STOPPED in dead_row.traceback
    alive_row.refresh_from_db()
    assert alive_row.status == TaskResultStatus.RUNNING


def test_a_task_row_that_is_gone_does_not_keep_the_job_running(project):
    dead = running_job(project, heartbeat_age=61)
    claimed_task_row(dead).delete()

    assert ImportJob.objects.fail_stale() == [dead.pk]
    dead.refresh_from_db()
    assert dead.worker_stopped


def test_a_database_refusing_the_task_rows_does_not_keep_the_job_running(project, monkeypatch):
    from django.db import DatabaseError
    from django_tasks_db.models import DBTaskResult

    dead = running_job(project, heartbeat_age=61)
    row = claimed_task_row(dead)

    def refuse(self, **kwargs):
        raise DatabaseError("relation does not exist")

    monkeypatch.setattr(type(DBTaskResult.objects.all()), "update", refuse)

    assert ImportJob.objects.fail_stale() == [dead.pk]
    dead.refresh_from_db()
    assert dead.worker_stopped
    assert DBTaskResult.objects.get(pk=row.pk).status == "RUNNING"


def test_each_job_names_the_task_whose_row_the_reaper_fails():
    from annotator.corpus.tasks import import_job_task
    from annotator.datasets.models import ExportJob
    from annotator.datasets.tasks import export_job_task

    assert import_job_task.module_path == ImportJob.TASK
    assert export_job_task.module_path == ExportJob.TASK


# --- BeatApart: the progress connection of a job that works inside one transaction --------


@pytest.mark.django_db(transaction=True)
def test_a_beat_gives_up_on_a_held_row_and_leaves_no_setting_on_its_session(project):
    if connection.vendor != "postgresql":
        pytest.skip("BeatApart is used on PostgreSQL only")
    job = running_job(project, heartbeat_age=1)
    beats = BeatApart(ImportJob, job.pk)
    try:
        with transaction.atomic():
            ImportJob.objects.select_for_update().get(pk=job.pk)  # the row held, as by a page
            started = time.monotonic()
            beats.write(processed_bytes=7)
            waited = time.monotonic() - started
        assert waited < 3  # gave up after its 200 ms lock timeout instead of waiting
        assert ImportJob.objects.get(pk=job.pk).processed_bytes == 0

        beats.write(processed_bytes=8)

        assert ImportJob.objects.get(pk=job.pk).processed_bytes == 8
        # The timeout was the beat's transaction's own: behind PgBouncer in transaction mode
        # a session setting would pass to whichever client gets this server connection next.
        with beats._connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "0"
    finally:
        beats.close()


# --- A worker killed between claiming a task and the task taking its job ---------------------


def test_a_queued_job_whose_task_was_claimed_over_the_stale_time_ago_is_failed(project):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    orphan = running_job(project, heartbeat_age=None, started_age=0)
    ImportJob.objects.filter(pk=orphan.pk).update(status=ImportJob.Status.QUEUED)
    just_claimed = ImportJob.objects.create(project=project, file="b.jsonl")
    waiting = ImportJob.objects.create(project=project, file="c.jsonl")
    orphan_row, fresh_row = claimed_task_row(orphan), claimed_task_row(just_claimed)
    DBTaskResult.objects.filter(pk=orphan_row.pk).update(
        started_at=timezone.now() - timedelta(seconds=61)
    )
    with database_tasks():
        import_job_task.enqueue(waiting.pk)  # ready, not claimed

    assert ImportJob.objects.fail_stale() == []  # a page's poll does not look for them
    assert ImportJob.objects.fail_stale(orphans=True) == [orphan.pk]

    orphan.refresh_from_db()
    assert orphan.worker_stopped
    orphan_row.refresh_from_db()
    assert orphan_row.status == TaskResultStatus.FAILED
    assert fresh_row.__class__.objects.get(pk=fresh_row.pk).status == TaskResultStatus.RUNNING
    statuses = ImportJob.objects.filter(pk__in=[just_claimed.pk, waiting.pk]).values_list(
        "status", flat=True
    )
    assert list(statuses) == [ImportJob.Status.QUEUED] * 2


def test_a_queued_job_whose_task_failed_before_taking_it_is_failed(project):
    """A task that raised before it took its job (the database gone at that instant, a
    deploy half done) leaves the job queued with nothing to run it: failed, not waiting."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    stranded = ImportJob.objects.create(project=project, file="a.jsonl")
    row = claimed_task_row(stranded)
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=TaskResultStatus.FAILED, started_at=timezone.now() - timedelta(seconds=61)
    )

    assert ImportJob.objects.fail_stale(orphans=True) == [stranded.pk]
    stranded.refresh_from_db()
    assert stranded.worker_stopped
