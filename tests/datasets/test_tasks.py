"""The export task: enqueued after the job's transaction commits, run once per job."""

import time

import orjson
import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Role
from annotator.datasets.jobs import create_export_job, start_export
from annotator.datasets.models import TEMP_DIR, ExportJob
from annotator.datasets.options import ExportOptions
from annotator.datasets.tasks import enqueue_export, export_job_task
from tests.datasets.corpus import make_labelled_corpus
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.worker import (
    database_tasks,
    database_url,
    finish,
    kill,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def job(project) -> ExportJob:
    make_labelled_corpus(project)
    return create_export_job(project, None, ExportOptions())


def test_the_task_is_enqueued_only_when_the_transaction_commits(
    job, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_export(job)
        # Nothing runs before the commit: the worker could not see the row yet.
        assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.QUEUED

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.file


def test_the_task_takes_the_job_id_and_builds_it(job):
    export_job_task.call(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.size_bytes == job.file.size


def test_a_task_delivered_twice_builds_the_zip_once(job):
    export_job_task.call(job.pk)
    job.refresh_from_db()
    first = (job.file.name, job.finished_at)

    export_job_task.call(job.pk)

    job.refresh_from_db()
    assert (job.file.name, job.finished_at) == first
    assert ExportJob.objects.count() == 1


# --- A real worker, killed in the middle of an export -----------------------------------------


def big_corpus(project, comments: int, tmp_path) -> None:
    """``comments`` comments in threads of 500, imported the fast way (COPY on PostgreSQL)."""
    lines = []
    for thread in range(comments // 500):
        lines.append({"type": "article", "id": f"a{thread}", "title": f"Article {thread}"})
        for i in range(500):
            lines.append(
                {
                    "type": "comment",
                    "id": f"c{i}",
                    "article_id": f"a{thread}",
                    "parent_id": f"c{i - 1}" if i % 4 else None,
                    "text": f"comment {i} of thread {thread} " + "word " * 20,
                }
            )
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    import_file(project, path)


@pytest.mark.django_db(transaction=True)
def test_an_export_whose_worker_is_killed_fails_keeps_no_half_zip_and_runs_again(
    client, settings, tmp_path
):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    settings.JOB_STALE_AFTER = 5
    settings.EXPORT_BACKGROUND_COMMENTS = 10
    database_url()  # skips where the worker cannot share the test database
    project = ProjectFactory(slug="killed-export")
    researcher = UserFactory(username="rita_researcher")
    MembershipFactory(project=project, user=researcher, role=Role.RESEARCHER)
    big_corpus(project, 100_000, tmp_path)
    client.force_login(researcher)
    with database_tasks():
        job = start_export(project, researcher, ExportOptions())
    detail = reverse("datasets:export_detail", args=[project.slug, job.pk])
    parts = media / TEMP_DIR

    def writing() -> bool:
        """The zip is being written: the job claimed, its .zip.part there. (Not "some
        comments reported": a warm 100,000-comment export can finish within the first
        half-second progress interval.)"""
        running = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING)
        return running.exists() and bool(list(parts.glob(f"export-{job.pk}-*.zip.part")))

    worker = start_worker(media)
    try:
        wait_for(
            writing,
            timeout=120,
            what="the export to be writing",
            worker=worker,
            state=lambda: ExportJob.objects.filter(pk=job.pk).values()[0],
        )
    finally:
        kill(worker)
    assert ExportJob.partial_files(job.pk)  # what a killed worker leaves behind

    html = client.get(detail, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in html  # alive a moment ago

    time.sleep(settings.JOB_STALE_AFTER + 0.5)
    html = client.get(detail, headers={"HX-Request": "true"}).content.decode()

    assert ExportJob.WORKER_STOPPED in html
    assert "Run it again" in html
    job.refresh_from_db()
    assert job.worker_stopped
    assert not job.file
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["FAILED"]
    assert [p for p in media.rglob("*") if p.is_file()] == []

    with database_tasks():
        response = client.post(reverse("datasets:export_retry", args=[project.slug, job.pk]))
    retry = ExportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("datasets:export_detail", args=[project.slug, retry.pk])
    finish(start_worker(media, "--batch"))

    retry.refresh_from_db()
    assert retry.status == ExportJob.Status.SUCCEEDED, retry.error
    assert retry.comments_done == 100_000
    assert retry.file.size == retry.size_bytes > 0
    assert [p for p in media.rglob("*") if p.is_file()] == [media / retry.file.name]
