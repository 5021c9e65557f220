"""Import jobs: run in the background, record success or refusal, report progress."""

import threading
import time
from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from annotator.corpus.importers import jobs, loader, tree
from annotator.corpus.models import Article, Comment, ImportJob, Role
from annotator.corpus.tasks import enqueue_import, import_job_task
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.worker import (
    database_tasks,
    database_url,
    database_write_locked,
    finish,
    kill,
    start_worker,
    wait_for,
)


def jsonl(*records: dict) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


ARTICLE = {"type": "article", "id": "a-1", "title": "An article"}


def comment(source_id: str, parent_id: str | None = None, text: str = "Some text") -> dict:
    return {
        "type": "comment",
        "id": source_id,
        "article_id": "a-1",
        "parent_id": parent_id,
        "text": text,
    }


def make_job(project, data: bytes, name: str = "thread.jsonl", **fields) -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        file=ContentFile(data, name=name),
        original_name=name,
        total_bytes=len(data),
        **fields,
    )


def test_a_job_that_succeeds_records_its_counts(project):
    job = make_job(project, jsonl(ARTICLE, comment("c2", "c1"), comment("c1")))

    result = jobs.run_import_job(job)

    job.refresh_from_db()
    assert result.comments_added == 2
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.articles_added, job.comments_added, job.comments_unchanged) == (1, 2, 0)
    assert job.processed_bytes == job.total_bytes
    assert job.started_at <= job.finished_at
    assert job.error == ""
    assert Comment.objects.get(source_id="c2").parent.source_id == "c1"


def test_a_refused_job_says_why_and_writes_nothing(project):
    job = make_job(project, jsonl(ARTICLE, comment("c1"), comment("c2", "c9")), name="up.jsonl")

    assert jobs.run_import_job(job) is None

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith('up.jsonl, line 3: parent "c9" not found')
    assert job.finished_at is not None
    assert (Article.objects.count(), Comment.objects.count()) == (0, 0)


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running(project, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs, "import_stream", explode)
    job = make_job(project, jsonl(ARTICLE))

    jobs.run_import_job(job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "unexpected error (RuntimeError)" in job.error


def test_a_job_whose_file_is_gone_fails(project):
    job = make_job(project, jsonl(ARTICLE))
    job.file.storage.delete(job.file.name)

    jobs.run_import_job(job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.error == "thread.jsonl: the uploaded file is gone; upload it again."


def test_the_job_uses_its_format_and_options(project, monkeypatch):
    seen = {}

    def fake_import(project, opener, **kwargs):
        seen.update(kwargs)
        return loader.ImportResult()

    monkeypatch.setattr(jobs, "import_stream", fake_import)
    job = make_job(project, b"x", name="t.txt", format="text", options={"article_end": 3})

    jobs.run_import_job(job)

    assert (seen["fmt"], seen["options"], seen["filename"]) == ("text", {"article_end": 3}, "t.txt")


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_another_connection_while_the_import_runs(monkeypatch):
    monkeypatch.setattr(loader, "PROGRESS_INTERVAL", 0)
    # Another connection stands for a browser polling from another request. (The import's
    # own connection is busy: on PostgreSQL it is in the middle of a COPY.)
    browser = connections.create_connection(DEFAULT_DB_ALIAS)
    seen = []
    original = jobs.JobProgress.__call__

    def spy(self, done, total):
        original(self, done, total)
        with browser.cursor() as cursor:
            cursor.execute("SELECT processed_bytes FROM corpus_importjob WHERE id = %s", [job.pk])
            seen.append(cursor.fetchone()[0])

    monkeypatch.setattr(jobs.JobProgress, "__call__", spy)
    project = ProjectFactory(slug="progress")
    records = [ARTICLE] + [comment(f"c{i}", text="w" * 2000) for i in range(1500)]
    job = make_job(project, jsonl(*records))

    try:
        jobs.run_import_job(job)
    finally:
        browser.close()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert len(set(seen)) >= 3
    assert seen == sorted(seen)
    assert 0 < max(seen) <= job.total_bytes
    assert job.processed_bytes == job.total_bytes


def test_enqueued_jobs_run_once_the_transaction_commits(
    project, django_capture_on_commit_callbacks
):
    job = make_job(project, jsonl(ARTICLE, comment("c1")))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_import(job)
        assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.QUEUED

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.comments_added == 1


def test_the_task_does_not_rerun_a_finished_job(project):
    job = make_job(project, jsonl(ARTICLE, comment("c1")), status=ImportJob.Status.SUCCEEDED)

    import_job_task.call(job.pk)

    assert Comment.objects.count() == 0


# --- Heartbeats and the reaper ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_running_import_writes_heartbeats_another_connection_sees(monkeypatch):
    monkeypatch.setattr(loader, "PROGRESS_INTERVAL", 0)
    browser = connections.create_connection(DEFAULT_DB_ALIAS)
    beats = []
    original = jobs.JobProgress.__call__

    def spy(self, done, total):
        original(self, done, total)
        with browser.cursor() as cursor:
            cursor.execute("SELECT heartbeat_at FROM corpus_importjob WHERE id = %s", [job.pk])
            beats.append(cursor.fetchone()[0])

    monkeypatch.setattr(jobs.JobProgress, "__call__", spy)
    records = [ARTICLE] + [comment(f"c{i}", text="w" * 2000) for i in range(1500)]
    job = make_job(ProjectFactory(slug="beats"), jsonl(*records))

    try:
        jobs.run_import_job(job)
    finally:
        browser.close()

    beats = [beat for beat in beats if beat is not None]
    assert len(set(beats)) >= 3
    assert beats == sorted(beats)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


def reap_from_another_connection() -> list[int]:
    """Run the reaper as a page polled from another request would: in a thread of its own,
    on a connection of its own."""
    failed: list[int] = []

    def reap() -> None:
        try:
            failed.extend(ImportJob.objects.fail_stale())
        finally:
            connection.close()

    reaper = threading.Thread(target=reap)
    reaper.start()
    reaper.join()
    return failed


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_resolve_phase_outlasts_the_stale_time_is_not_reaped(settings, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's write lock keeps the reaper off the whole write transaction")
    settings.JOB_STALE_AFTER = 1
    monkeypatch.setattr(loader, "PROGRESS_INTERVAL", 0.1)
    real_place = tree._Skeleton._place
    reaped: list[int] = []

    def slow_place(self, *args):
        # Resolving the tree between the passes reads no bytes: 8 x 0.3 s here, over the
        # stale time, with the reaper looking in from another connection all along.
        time.sleep(0.3)
        reaped.extend(reap_from_another_connection())
        return real_place(self, *args)

    monkeypatch.setattr(tree._Skeleton, "_place", slow_place)
    records = []
    for number in range(8):
        records.append({"type": "article", "id": f"a-{number}", "title": f"Article {number}"})
        records.append({**comment(f"c{number}"), "article_id": f"a-{number}"})
    job = make_job(ProjectFactory(slug="slow-resolve"), jsonl(*records))

    result = jobs.run_import_job(job)

    assert reaped == []
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert result.comments_added == Comment.objects.count() == 8


def test_an_import_the_reaper_failed_meanwhile_writes_nothing_and_the_verdict_stands(
    project, monkeypatch
):
    job = make_job(project, jsonl(ARTICLE, comment("c1"), comment("c2", "c1")))
    real_scan = tree._Skeleton.scan

    def stalled_scan(self, records):
        real_scan(self, records)
        # The worker stalled after reading the file, long enough for the reaper.
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, error=ImportJob.WORKER_STOPPED
        )

    monkeypatch.setattr(tree._Skeleton, "scan", stalled_scan)

    assert jobs.run_import_job(job) is None

    job.refresh_from_db()
    assert job.worker_stopped
    assert job.comments_added == 0
    assert (Article.objects.count(), Comment.objects.count()) == (0, 0)


def test_a_worker_starting_a_task_fails_the_jobs_a_dead_worker_left_running(project, settings):
    settings.JOB_STALE_AFTER = 60
    dead = make_job(project, jsonl(ARTICLE), status=ImportJob.Status.RUNNING)
    ImportJob.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=120)
    )
    job = make_job(project, jsonl(ARTICLE, comment("c1")))

    import_job_task.call(job.pk)

    dead.refresh_from_db()
    assert dead.worker_stopped
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


# --- A real worker, killed in the middle of an import -----------------------------------------


def big_thread(comments: int) -> bytes:
    """One article and ``comments`` comments in chains of five: a few seconds of import."""
    records = [ARTICLE]
    for i in range(comments):
        parent = f"c{i - 1}" if i % 5 else None
        records.append(comment(f"c{i}", parent, text=f"comment number {i} " + "word " * 15))
    return jsonl(*records)


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_is_killed_fails_having_written_nothing_and_runs_again(
    client, settings, tmp_path
):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    settings.JOB_STALE_AFTER = 5
    settings.IMPORT_BACKGROUND_BYTES = 1024
    database_url()  # skips where the worker cannot share the test database
    project = ProjectFactory(slug="killed")
    admin = UserFactory(username="kim_admin")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    size = 150_000
    with database_tasks():
        client.post(
            reverse("corpus:import_list", args=[project.slug]),
            {"file": SimpleUploadedFile("big.jsonl", big_thread(size)), "format": "auto"},
        )
    job = ImportJob.objects.get()
    detail = reverse("corpus:import_detail", args=[project.slug, job.pk])

    def writing() -> bool:
        """The worker is in the write pass: rows written but not committed. PostgreSQL shows
        it in the progress (the second half of the bar); on SQLite, whose progress stops
        when the write transaction starts, the database's write lock is held."""
        if connection.vendor == "sqlite":
            running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)
            return running.exists() and database_write_locked()
        return ImportJob.objects.filter(
            pk=job.pk, status=ImportJob.Status.RUNNING, processed_bytes__gt=job.total_bytes * 0.55
        ).exists()

    worker = start_worker(media)
    try:
        wait_for(
            writing,
            timeout=120,
            what="the import to be writing",
            worker=worker,
            state=lambda: ImportJob.objects.filter(pk=job.pk).values()[0],
        )
    finally:
        kill(worker)

    # Its last heartbeat was a moment ago: still running for the page.
    html = client.get(detail, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING

    time.sleep(settings.JOB_STALE_AFTER + 0.5)
    html = client.get(detail, headers={"HX-Request": "true"}).content.decode()

    assert ImportJob.WORKER_STOPPED in html
    assert "Run it again" in html
    assert "hx-trigger" not in html
    assert (Article.objects.count(), Comment.objects.count()) == (0, 0)
    job.refresh_from_db()
    assert job.worker_stopped
    assert [p for p in media.rglob("*") if p.is_file()] == [media / job.file.name]
    # The worker's own row of the task says so too, not RUNNING for ever.
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["FAILED"]

    with database_tasks():
        response = client.post(reverse("corpus:import_retry", args=[project.slug, job.pk]))
    retry = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("corpus:import_detail", args=[project.slug, retry.pk])
    finish(start_worker(media, "--batch"))

    retry.refresh_from_db()
    assert retry.status == ImportJob.Status.SUCCEEDED, retry.error
    assert retry.comments_added == Comment.objects.count() == size
    assert ImportJob.objects.get(pk=job.pk).worker_stopped
