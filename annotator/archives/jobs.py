"""Running archives and restores as ``ArchiveJob`` rows, for the site's pages.

``start_archive`` and ``start_restore`` record the job and queue it for the worker
(``tasks.py``). ``run_archive_job`` writes the archive into a temporary file and saves it
through the storage API (the filesystem, or the object store when ``STORAGE_BUCKET`` is
set) only once it is complete; ``run_restore_job`` reads the uploaded archive from storage
and restores it in one transaction, then deletes the upload. A failure is the job's
``error``, one line, and leaves nothing half-written.

Progress and heartbeat: an archive or a restore is one transaction, whose own writes
nobody else sees until it ends; so the job's progress and ``heartbeat_at`` are written
through a second connection of its own (``heartbeats.BeatApart``), on PostgreSQL. On
SQLite both hold the write lock from their first statement (``IMMEDIATE`` transactions),
so they cannot beat and show no progress until done; the reaper cannot take the lock
either, and leaves a live job alone, as it does a live import.
"""

from __future__ import annotations

import logging
import tempfile
import time

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connections
from django.utils import timezone

from annotator.archives.format import ArchiveError
from annotator.archives.models import ArchiveJob
from annotator.archives.restoring import SlugTaken, restore_project
from annotator.archives.writing import archive_project
from annotator.corpus.heartbeats import BeatApart
from annotator.corpus.models import Project

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between progress writes


def start_archive(project: Project, user: AbstractBaseUser) -> ArchiveJob:
    """Record an archive of ``project`` and queue it for the worker."""
    from annotator.archives.tasks import enqueue_archive_job

    job = ArchiveJob.objects.create(
        kind=ArchiveJob.Kind.ARCHIVE, project=project, slug=project.slug, created_by=user
    )
    enqueue_archive_job(job)
    return job


def start_restore(upload: UploadedFile, slug: str, user: AbstractBaseUser) -> ArchiveJob:
    """Keep the uploaded archive in storage, record its restore and queue it."""
    from annotator.archives.tasks import enqueue_archive_job

    job = ArchiveJob(
        kind=ArchiveJob.Kind.RESTORE,
        slug=slug,
        original_name=upload.name[:255],
        size_bytes=upload.size or 0,
        created_by=user,
    )
    job.file.save("restore.jsonl.gz", upload, save=False)
    job.save()
    enqueue_archive_job(job)
    return job


class _SideProgress:
    """Writes a job's progress and heartbeat through a connection of its own
    (``BeatApart``), at most every half second."""

    def __init__(self, job: ArchiveJob, enabled: bool) -> None:
        self.beat = BeatApart(ArchiveJob, job.pk, status=ArchiveJob.Status.RUNNING)
        self.enabled = enabled
        self.last = 0.0

    def __call__(self, stage: str, rows: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        self.beat.write(stage=stage, rows_done=rows)

    def close(self) -> None:
        self.beat.close()


def _begin(job_id: int) -> ArchiveJob | None:
    """Mark a queued job running; None when it is not queued (run already, or gone)."""
    now = timezone.now()
    updated = ArchiveJob.objects.filter(pk=job_id, status=ArchiveJob.Status.QUEUED).update(
        status=ArchiveJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return (
        ArchiveJob.objects.select_related("project", "created_by").get(pk=job_id)
        if updated
        else None
    )


def _finish(job: ArchiveJob, **fields: object) -> bool:
    """Record the outcome ``fields`` of ``job`` if it is still running (the reaper may have
    failed it as its worker's meanwhile: then the failure stands); True if recorded."""
    fields["finished_at"] = timezone.now()
    recorded = ArchiveJob.objects.filter(pk=job.pk, status=ArchiveJob.Status.RUNNING).update(
        **fields
    )
    job.refresh_from_db()
    return recorded > 0


def _fail(job: ArchiveJob, message: str) -> None:
    _finish(job, status=ArchiveJob.Status.FAILED, error=message)


def run_archive_job(job_id: int) -> None:
    """Write the archive of job ``job_id`` and keep it in storage."""
    job = _begin(job_id)
    if job is None:
        return
    if job.project is None:
        _fail(job, "The project was deleted before it could be archived.")
        return
    progress = _SideProgress(job, connections["default"].vendor == "postgresql")
    try:
        with tempfile.TemporaryFile() as out:
            counts = archive_project(job.project, out, progress=progress)
            size = out.tell()
            out.seek(0)
            job.file.save(job.filename, File(out), save=False)
    except Exception:
        logger.exception("Archive job %s failed", job_id)
        _fail(job, "The archive could not be written; nothing was kept. Try again.")
        return
    finally:
        progress.close()
    stored = job.file.name
    if not _finish(
        job,
        status=ArchiveJob.Status.SUCCEEDED,
        file=stored,
        counts=counts,
        size_bytes=size,
        rows_done=sum(counts.values()),
        stage="",
    ):
        job.file.storage.delete(stored)  # failed by the reaper meanwhile: keep nothing


def run_restore_job(job_id: int) -> None:
    """Restore the uploaded archive of job ``job_id``; its upload is deleted either way."""
    job = _begin(job_id)
    if job is None:
        return
    progress = _SideProgress(job, connections["default"].vendor == "postgresql")
    try:
        with job.file.open("rb") as archive:
            result = restore_project(
                archive, slug=job.slug or None, restored_by=job.created_by, progress=progress
            )
    except SlugTaken as taken:
        _fail(job, f"A project with the slug {taken.slug!r} already exists: choose another.")
    except ArchiveError as error:
        _fail(job, f"The archive cannot be restored: {error}. Nothing was restored.")
    except FileNotFoundError:
        _fail(job, "The uploaded archive is gone; upload it again.")
    except Exception:
        logger.exception("Restore job %s failed", job_id)
        _fail(job, "The restore stopped on an unexpected error; nothing was restored.")
    else:
        _finish(
            job,
            status=ArchiveJob.Status.SUCCEEDED,
            project=result.project,
            slug=result.project.slug,
            counts=result.counts,
            people={
                "members": result.members,
                "invited": result.invited,
                "inactive_accounts": result.inactive_accounts,
            },
            rows_done=sum(result.counts.values()),
            stage="",
        )
    finally:
        progress.close()
    if job.file:
        job.file.delete(save=False)
        ArchiveJob.objects.filter(pk=job.pk).update(file="")
