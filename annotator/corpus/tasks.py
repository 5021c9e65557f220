"""Background tasks of the corpus app: imports too large to run inside a web request.

Tasks take ids, not objects (they are serialised for the worker), and are enqueued once the
transaction that created the job commits, so the worker never looks for a row it cannot see
yet. django-tasks is the backport of Django 6's ``django.tasks``; on Django 6 only the import
below changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task  # Django 6: from django.tasks import task

from annotator.corpus.models import ImportJob

NOT_QUEUED = "not queued"  # what a task whose job was not waiting for it returns


@task()
def import_job_task(job_id: int) -> str:
    """Run the import job ``job_id`` (its row records the outcome, success or refusal).

    Returns the job's final status (kept by the worker on its task row), or ``NOT_QUEUED``
    when the job was not waiting to run: run or running already (a job enqueued twice, each
    task perhaps claimed by another worker at the same moment), waiting for the admin, or
    deleted. The job is taken with one conditional UPDATE (queued → running), so of two
    tasks of one job exactly one runs it.
    """
    from annotator.corpus.importers.jobs import run_import_job

    # A worker starting work is when jobs left running by a dead one are noticed, as well
    # as when their page is polled (heartbeats.py), and those it died before taking.
    ImportJob.objects.fail_stale(orphans=True)
    now = timezone.now()
    taken = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not taken:
        return NOT_QUEUED
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    run_import_job(job)
    return job.status


@task()
def read_text_task(job_id: int, article_end: int | None = None) -> None:
    """Read the scraped-text upload of job ``job_id`` for its preview (``previews.py``)."""
    from annotator.corpus.previews import keep_valid_choices, run_reading

    ImportJob.objects.fail_stale()
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    if job.status != ImportJob.Status.READING:
        return  # a task delivered twice, or a job discarded or failed meanwhile
    run_reading(job, article_end)
    if job.status == ImportJob.Status.PREVIEW:
        keep_valid_choices(job)


def enqueue_reading(job: ImportJob, article_end: int | None = None) -> None:
    """Queue the reading of ``job``'s scraped text once the current transaction commits."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.READING, processed_bytes=0)
    job.status = ImportJob.Status.READING
    job_id = job.pk
    transaction.on_commit(lambda: read_text_task.enqueue(job_id, article_end))


def enqueue_import(job: ImportJob) -> None:
    """Queue ``job`` for the background worker once the current transaction commits."""
    if job.status != ImportJob.Status.QUEUED:
        job.status = ImportJob.Status.QUEUED
        job.save(update_fields=["status"])
    job_id = job.pk
    transaction.on_commit(lambda: import_job_task.enqueue(job_id))


def retry_import(job: ImportJob, user, *, encoding: str | None = None) -> ImportJob:
    """A new job for the same file, format and corrections as ``job``, started like an upload
    (now when small, else queued). The failed job stays in the log as it was.

    A scraped-text job that stopped before the admin confirmed it is read again and waits
    for review with the choices kept; a confirmed one imports its file with them.
    ``encoding`` reads the file in that encoding (a file refused as not UTF-8).
    """
    from annotator.corpus.importers.jobs import run_import_job
    from annotator.corpus.previews import start_reading

    options = dict(job.options or {})
    options.pop("encoding_found", None)
    if encoding is not None:
        options["encoding"] = encoding
    retry = ImportJob.objects.create(
        project=job.project,
        created_by=user,
        format=job.format,
        file=job.file.name,
        original_name=job.original_name,
        total_bytes=job.total_bytes,
        options=options,
        status=ImportJob.Status.QUEUED,
    )
    if job.format == ImportJob.Format.TEXT and not (job.options or {}).get("confirmed"):
        start_reading(retry, (job.options or {}).get("article_end"))
        return retry
    if retry.total_bytes < settings.IMPORT_BACKGROUND_BYTES:
        run_import_job(retry)
    else:
        enqueue_import(retry)
    return retry
