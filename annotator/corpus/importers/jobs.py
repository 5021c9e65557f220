"""Import jobs: run an ``ImportJob`` row (the browser's progress bar, the API's job) through
the loader and record its outcome on the row, with its progress and heartbeat.

``tasks.py`` runs ``run_import_job`` in the background worker and the upload views run
small files at once; ``previews.py`` reports through ``JobProgress`` too. These names are
also importable from ``loader.py``, as they always were.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from django.db import connection
from django.utils import timezone

from annotator.corpus.heartbeats import BeatApart
from annotator.corpus.importers.encoding import NotUtf8Error
from annotator.corpus.importers.loader import ImportResult, import_stream
from annotator.corpus.importers.records import ImportFileError
from annotator.corpus.models import ImportJob, PreviewComment
from annotator.corpus.stored_files import open_stored
from annotator.corpus.uploads import NO_SPACE_MESSAGE, is_disk_full, is_store_failure

logger = logging.getLogger(__name__)


class JobAbandoned(Exception):
    """The job was failed by the reaper while this worker ran it (heartbeats.py): its rows
    are rolled back, so the "nothing was imported" the user was told stays true."""


def run_import_job(job: ImportJob) -> ImportResult | None:
    """Run one ``ImportJob``: import its file and record the outcome on the row.

    The job ends SUCCEEDED with its counts or FAILED with the reason, never RUNNING. Progress
    and the heartbeat are written while the import runs, through a second connection on
    PostgreSQL so that a browser polling from another request sees them while the import's
    transaction is open. SQLite allows one writer at a time, so there they are written only
    during the first pass, before the write transaction starts (whose lock then keeps the
    reaper off). Success is recorded inside the import's transaction, and every outcome only
    on a row still RUNNING: when the reaper failed the job first, the import rolls back and
    the reaper's message stands.
    """
    now = timezone.now()
    job.status = ImportJob.Status.RUNNING
    job.started_at = now
    job.heartbeat_at = now
    job.finished_at = None
    job.processed_bytes = 0
    job.error = ""
    storage, name = job.file.storage, job.file.name
    with contextlib.suppress(Exception):  # a missing file or store is reported below
        job.total_bytes = storage.size(name)
    job.save(
        update_fields=[
            "status",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "processed_bytes",
            "error",
            "total_bytes",
        ]
    )
    reporter = JobProgress(job)
    running = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING)

    def record_success(result: ImportResult) -> None:
        job.status = ImportJob.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.processed_bytes = job.total_bytes
        job.articles_added = result.articles_added
        job.comments_added = result.comments_added
        job.comments_unchanged = result.comments_unchanged
        job.notices = result.notice_lines()
        if not running.update(
            status=job.status,
            finished_at=job.finished_at,
            heartbeat_at=job.finished_at,
            processed_bytes=job.processed_bytes,
            articles_added=job.articles_added,
            comments_added=job.comments_added,
            comments_unchanged=job.comments_unchanged,
            notices=job.notices,
        ):
            raise JobAbandoned(job.pk)

    from annotator.corpus.previews import has_reading, import_reading

    error = ""
    result = None
    try:
        if job.format == ImportJob.Format.TEXT and has_reading(job):
            # What the preview showed, from its stored rows: the file is not read again.
            result = import_reading(job, progress=reporter, before_commit=record_success)
            PreviewComment.objects.filter(job=job).delete()
        else:
            result = import_stream(
                job.project,
                lambda: open_stored(storage, name),
                size=job.total_bytes,
                filename=job.original_name or Path(name).name,
                fmt=job.format,
                options=job.options,
                progress=reporter,
                before_commit=record_success,
            )
    except JobAbandoned:
        logger.warning("import job %s was failed by the reaper while it ran", job.pk)
        job.refresh_from_db()
        return None
    except NotUtf8Error as refused:
        error = str(refused)
        if refused.found:  # the job page offers to import it in that encoding
            job.options = {**(job.options or {}), "encoding_found": refused.found}
    except ImportFileError as refused:
        error = str(refused)
    except FileNotFoundError:
        error = f"{job.original_name}: the uploaded file is gone; upload it again."
    except Exception as unexpected:
        if is_disk_full(unexpected):
            error = NO_SPACE_MESSAGE
        elif is_store_failure(unexpected):
            logger.warning("import job %s could not read its file: %s", job.pk, unexpected)
            error = (
                f"{job.original_name}: the file store could not be reached; nothing was "
                "imported. Run it again once the store answers."
            )
        else:
            logger.exception("import job %s stopped on an unexpected error", job.pk)
            error = (
                f"{job.original_name}: the import stopped on an unexpected error "
                f"({type(unexpected).__name__}); nothing was written."
            )
    finally:
        reporter.close()
    if error:
        result = None
        job.status = ImportJob.Status.FAILED
        job.error = error
        job.finished_at = timezone.now()
        if not running.update(
            status=job.status, error=error, finished_at=job.finished_at, options=job.options
        ):
            job.refresh_from_db()  # the reaper was first; its message stands
    return result


class JobProgress:
    """A progress callback that writes ``processed_bytes`` and the heartbeat on the job's row.

    ``written`` keeps the values it wrote, in order (tests and logs read it).
    """

    def __init__(self, job: ImportJob):
        self.job = job
        self.written: list[int] = []
        self._apart = BeatApart(ImportJob, job.pk)

    def __call__(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` bytes as the job's share of its file's size."""
        if done >= total:
            return  # the end is recorded with the outcome, on the job's own row
        processed = self.job.total_bytes * done // total if total else 0
        if connection.vendor == "postgresql":
            self._apart.write(processed_bytes=processed)
        elif not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(
                processed_bytes=processed, heartbeat_at=timezone.now()
            )
        else:
            return
        self.written.append(processed)

    def close(self) -> None:
        """Close the progress connection, if one was opened."""
        self._apart.close()
