"""Background tasks of the archives app: archives and restores asked for on the site.

As the other apps' jobs: the task takes the job's id and is enqueued once the transaction
that created the job commits (django-tasks, the backport of Django 6's ``django.tasks``).
"""

from __future__ import annotations

from django.db import transaction
from django_tasks import task  # Django 6: from django.tasks import task

from annotator.archives.models import ArchiveJob


@task()
def archive_job_task(job_id: int) -> None:
    """Run the archive or restore ``job_id`` (a job that is not queued is left alone)."""
    from annotator.archives.jobs import run_archive_job, run_restore_job

    ArchiveJob.objects.fail_stale(orphans=True)  # jobs of workers that died
    kind = ArchiveJob.objects.filter(pk=job_id).values_list("kind", flat=True).first()
    if kind == ArchiveJob.Kind.ARCHIVE:
        run_archive_job(job_id)
    elif kind == ArchiveJob.Kind.RESTORE:
        run_restore_job(job_id)


def enqueue_archive_job(job: ArchiveJob) -> None:
    """Queue ``job`` for the background worker once the current transaction commits."""
    job_id = job.pk
    transaction.on_commit(lambda: archive_job_task.enqueue(job_id))
