"""The export task: enqueued after the job's transaction commits, run once per job."""

import pytest

from annotator.datasets.jobs import create_export_job
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportOptions
from annotator.datasets.tasks import enqueue_export, export_job_task
from tests.datasets.corpus import make_labelled_corpus

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
