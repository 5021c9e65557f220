"""Archive and restore jobs: the file through the storage API, the outcome on the row."""

from __future__ import annotations

import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.archives.jobs import start_archive, start_restore
from annotator.archives.models import ArchiveJob
from annotator.corpus.models import Project
from tests.archives.builders import rich_project
from tests.archives.canonical import canonical
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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
