"""Failing the jobs whose worker died: stale heartbeats only, one conditional UPDATE each."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from annotator.corpus.heartbeats import fail_stale
from annotator.corpus.models import ImportJob

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
