"""Background tasks of the datasets app: exports of projects too large to build in a request.

Like the corpus app's imports: the task takes the job's id, and is enqueued once the
transaction that created the job commits, so the worker never looks for a row it cannot
see yet. django-tasks is the backport of Django 6's ``django.tasks``.
"""

from __future__ import annotations

from django.db import transaction
from django_tasks import task  # Django 6: from django.tasks import task

from annotator.datasets.models import ExportJob


@task()
def export_job_task(job_id: int) -> None:
    """Build the export ``job_id`` (its row records the outcome; a finished job is left alone)."""
    from annotator.datasets.jobs import run_export_job

    # A worker starting work notices the exports a dead one left running, or died before
    # taking (heartbeats.py).
    ExportJob.objects.fail_stale(orphans=True)
    run_export_job(job_id)


def enqueue_export(job: ExportJob) -> None:
    """Queue ``job`` for the background worker once the current transaction commits."""
    job_id = job.pk
    transaction.on_commit(lambda: export_job_task.enqueue(job_id))
