"""Archive and restore jobs: the file through the storage API, the outcome on the row."""

from __future__ import annotations

import gzip
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from annotator.archives import jobs
from annotator.archives.jobs import start_archive, start_restore
from annotator.archives.models import ArchiveJob
from annotator.corpus.models import Project
from tests.archives.builders import rich_project
from tests.archives.canonical import canonical
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def files_in(directory: Path) -> list[str]:
    return sorted(str(p) for p in Path(directory).rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(db):
    return UserFactory(username="site_admin", is_staff=True)


def archived_job(project, user, capture) -> ArchiveJob:
    with capture(execute=True):
        job = start_archive(project, user)
    job.refresh_from_db()
    return job


def test_an_archive_job_keeps_the_file_in_storage(staff, django_capture_on_commit_callbacks):
    project = rich_project()
    job = archived_job(project, staff, django_capture_on_commit_callbacks)
    assert job.status == ArchiveJob.Status.SUCCEEDED, job.error
    assert job.counts["comment"] == 28 and job.rows_done == sum(job.counts.values())
    with job.file.open("rb") as stored:
        data = stored.read()
    assert job.size_bytes == len(data)
    assert gzip.decompress(data).splitlines()[-1].startswith(b'{"t":"end"')


def test_a_restore_job_restores_and_drops_the_upload(staff, django_capture_on_commit_callbacks):
    project = rich_project()
    job = archived_job(project, staff, django_capture_on_commit_callbacks)
    with job.file.open("rb") as stored:
        upload = SimpleUploadedFile("rich.jsonl.gz", stored.read())
    with django_capture_on_commit_callbacks(execute=True):
        restore = start_restore(upload, "rich-again", staff)
    restore.refresh_from_db()
    assert restore.status == ArchiveJob.Status.SUCCEEDED, restore.error
    assert restore.project.slug == "rich-again"
    assert canonical("rich-again") == canonical("rich")
    assert restore.people["members"]
    assert not restore.file


def test_a_damaged_upload_fails_the_job_and_restores_nothing(
    staff, django_capture_on_commit_callbacks
):
    project = rich_project()
    job = archived_job(project, staff, django_capture_on_commit_callbacks)
    with job.file.open("rb") as stored:
        data = stored.read()
    upload = SimpleUploadedFile("cut.jsonl.gz", data[: len(data) // 2])
    with django_capture_on_commit_callbacks(execute=True):
        restore = start_restore(upload, "cut", staff)
    restore.refresh_from_db()
    assert restore.status == ArchiveJob.Status.FAILED
    assert "cut short" in restore.error and "Nothing was restored" in restore.error
    assert not Project.objects.filter(slug="cut").exists()
    assert not restore.file


def test_a_taken_slug_fails_the_job_saying_so(staff, django_capture_on_commit_callbacks):
    project = rich_project()
    job = archived_job(project, staff, django_capture_on_commit_callbacks)
    with job.file.open("rb") as stored:
        upload = SimpleUploadedFile("rich.jsonl.gz", stored.read())
    with django_capture_on_commit_callbacks(execute=True):
        restore = start_restore(upload, "", staff)
    restore.refresh_from_db()
    assert restore.status == ArchiveJob.Status.FAILED
    assert "'rich' already exists" in restore.error
    assert Project.objects.filter(slug="rich").count() == 1


def stale_running_job(project, user) -> ArchiveJob:
    """An archive job left running by a worker that died long ago (no heartbeat since)."""
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 60)
    return ArchiveJob.objects.create(
        kind=ArchiveJob.Kind.ARCHIVE,
        status=ArchiveJob.Status.RUNNING,
        project=project,
        slug=project.slug,
        created_by=user,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )


def test_a_dead_workers_archive_is_failed_when_its_page_is_polled_and_offers_a_new_run(
    staff, client
):
    project = rich_project()
    job = stale_running_job(project, staff)
    client.force_login(staff)

    page = client.get(reverse("archives:job_detail", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == ArchiveJob.Status.FAILED and job.worker_stopped
    assert ArchiveJob.WORKER_STOPPED in page.content.decode()
    assert reverse("archives:archive_list", args=[project.slug]) in page.content.decode()
    assert "Run it again" in page.content.decode()


def test_a_live_archive_with_a_recent_heartbeat_is_left_running(staff):
    job = stale_running_job(rich_project(), staff)
    ArchiveJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    assert ArchiveJob.objects.fail_stale() == []
    job.refresh_from_db()
    assert job.status == ArchiveJob.Status.RUNNING


def test_fail_stale_jobs_fails_dead_archive_jobs_too(staff):
    job = stale_running_job(rich_project(), staff)
    out = io.StringIO()

    call_command("fail_stale_jobs", stdout=out)

    job.refresh_from_db()
    assert job.status == ArchiveJob.Status.FAILED and job.worker_stopped
    assert f"archives [{job.pk}]" in out.getvalue()


def test_an_archive_finished_after_the_reaper_failed_it_keeps_no_file(
    staff, monkeypatch, django_capture_on_commit_callbacks
):
    project = rich_project()
    real = jobs.archive_project

    def archive_while_the_reaper_fails_it(*args, **kwargs):
        counts = real(*args, **kwargs)
        ArchiveJob.objects.update(status=ArchiveJob.Status.FAILED, error=ArchiveJob.WORKER_STOPPED)
        return counts

    monkeypatch.setattr(jobs, "archive_project", archive_while_the_reaper_fails_it)
    job = archived_job(project, staff, django_capture_on_commit_callbacks)

    assert job.status == ArchiveJob.Status.FAILED and job.worker_stopped
    assert not job.file
    assert files_in(settings.MEDIA_ROOT) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="on SQLite the archive's transaction holds the write lock: nothing else can write",
)
@pytest.mark.django_db(transaction=True)  # the beats' connection must see the job's row
def test_a_running_archive_beats_with_its_progress(staff, monkeypatch):
    project = rich_project()
    job = ArchiveJob.objects.create(
        kind=ArchiveJob.Kind.ARCHIVE, project=project, slug=project.slug, created_by=staff
    )
    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0)
    seen = []  # the row as another connection sees it (the archive reads one snapshot)
    real = jobs.archive_project

    def archive_and_look(project, out, progress):
        observer = connections.create_connection("default")

        def looking(stage, rows):
            progress(stage, rows)
            with observer.cursor() as cursor:
                cursor.execute(
                    "SELECT started_at, heartbeat_at, rows_done FROM archives_archivejob"
                )
                seen.append(cursor.fetchone())

        try:
            return real(project, out, progress=looking)
        finally:
            observer.close()

    monkeypatch.setattr(jobs, "archive_project", archive_and_look)
    jobs.run_archive_job(job.pk)

    assert seen and all(beat > started for started, beat, _ in seen)
    assert max(rows for _, _, rows in seen) > 0
    job.refresh_from_db()
    assert job.status == ArchiveJob.Status.SUCCEEDED
