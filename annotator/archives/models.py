"""``ArchiveJob``: one archive of a project, or one restore of an archive, asked for on the
site's pages by a site admin and run by the background worker; what the page polls."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotator.corpus.heartbeats import StoppableJob
from annotator.corpus.models import Project


class ArchiveJobQuerySet(models.QuerySet):
    """Archive jobs, with the reaper of those whose worker died (``corpus/heartbeats.py``)."""

    def fail_stale(self, *, orphans: bool = False) -> list[int]:
        """Fail the running jobs whose heartbeat stopped, and with ``orphans`` the queued
        ones whose task's worker died (``heartbeats.fail_stale``)."""
        from annotator.corpus.heartbeats import fail_stale

        return fail_stale(self, ArchiveJob.WORKER_STOPPED, orphans=orphans)


class ArchiveJob(StoppableJob, models.Model):
    """An archive (``file`` is the archive written) or a restore (``file`` is the upload).

    A running job beats (``heartbeat_at``) with its progress; one whose worker died is
    failed with ``WORKER_STOPPED`` when its page is polled, when a worker starts a task and
    by ``manage.py fail_stale_jobs``. Both kinds are one transaction, so a dead worker left
    nothing: the page offers to run it again.
    """

    WORKER_STOPPED = "The worker stopped: nothing was kept or restored. Run it again."
    # The task that runs a job (its one argument is the job's id): the reaper fails its row.
    TASK = "annotator.archives.tasks.archive_job_task"
    TAKEN_AT_TASK_START = True  # the task takes its job at once (queued -> running)

    class Kind(models.TextChoices):
        ARCHIVE = "archive", "Archive"
        RESTORE = "restore", "Restore"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The project archived, or the one a restore made (null until it succeeded).
    project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="archive_jobs"
    )
    # The project's slug when archived; the slug asked for (empty: the archive's) to restore.
    slug = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to="archives/%Y/%m/", max_length=500, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # Progress: the row type being written or read and the rows done so far.
    stage = models.CharField(max_length=30, blank=True)
    rows_done = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    # A restore's people: {"members": [...], "invited": [...], "inactive_accounts": [...]}.
    people = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = ArchiveJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.slug or self.original_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def is_downloadable(self) -> bool:
        return (
            self.kind == self.Kind.ARCHIVE
            and self.status == self.Status.SUCCEEDED
            and bool(self.file)
        )

    @property
    def filename(self) -> str:
        """The download's name: the project's slug and the day it was archived."""
        return f"{self.slug}-{self.created_at:%Y%m%d-%H%M}.jsonl.gz"
