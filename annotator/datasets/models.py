"""Export jobs: one download of a project's labelled corpus, with its options and progress.

Rows stay after the export as the project's export log; the file is kept for download.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotator.corpus.heartbeats import StoppableJob
from annotator.corpus.models import Project

FORMAT_LABELS = {
    "jsonl": "JSON Lines",
    "json": "Nested JSON",
    "csv": "CSV",
    "parquet": "Parquet",
    "convokit": "ConvoKit corpus",
    "rumoureval": "RumourEval / PHEME threads",
}
# How the export log names each label set; an old job without the option gave every
# annotator's answers, as the default still does.
LABEL_SET_LABELS = {"all": "all annotators", "final": "final labels", "gold": "gold labels only"}


# Under MEDIA_ROOT: same file system, so the final move is a rename (with an object store,
# the worker's temporary directory instead: jobs.export_temp_dir).
TEMP_DIR = "exports/tmp"
STANDARD_OUTPUT = "(standard output)"  # the output_path of a command-line export to stdout


class ExportJobQuerySet(models.QuerySet):
    """Export jobs, with the reaper of those whose worker died (see corpus/heartbeats.py)."""

    def fail_stale(self, project: Project | None = None, *, orphans: bool = False) -> list[int]:
        """Fail the running exports (of ``project``) whose heartbeat stopped (with ``orphans``
        also the queued ones whose task's worker died), remove their half-written zips, and
        return their ids."""
        from annotator.corpus.heartbeats import fail_stale

        jobs = self if project is None else self.filter(project=project)
        failed = fail_stale(jobs, ExportJob.WORKER_STOPPED, orphans=orphans)
        outputs = dict(ExportJob.objects.filter(pk__in=failed).values_list("pk", "output_path"))
        for pk in failed:
            for part in ExportJob.partial_files(pk, outputs.get(pk, "")):
                part.unlink(missing_ok=True)
        return failed


class ExportJob(StoppableJob, models.Model):
    """One export of a project's corpus: what was asked, how far it got, and the file."""

    WORKER_STOPPED = "The worker stopped: no file was kept. Run it again."
    # Its task in django-tasks-db, whose row the reaper fails with the job (heartbeats.py).
    TASK = "annotator.datasets.tasks.export_job_task"
    # The task sets the job running as its first write: a job still queued long after a
    # worker claimed its task lost that worker (heartbeats.fail_stale's orphans).
    TAKEN_AT_TASK_START = True

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the running export as it makes progress; see corpus/heartbeats.py.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=10)
    # ExportOptions.to_json(): what was asked, recorded with the file.
    options = models.JSONField(default=dict)
    file = models.FileField(upload_to="exports/%Y/%m/", max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    comments_total = models.PositiveIntegerField(default=0)
    comments_done = models.PositiveIntegerField(default=0)
    # What the finished package holds (ExportSummary), for the log and the job's page.
    articles = models.PositiveIntegerField(default=0)
    labelled_comments = models.PositiveIntegerField(default=0)
    annotations = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # The name the download gets (the stored file may carry a suffix storage added to keep
    # names unique).
    filename = models.CharField(max_length=255, blank=True)
    # Where ``manage.py export_corpus`` wrote the zip; such exports keep no file here, and
    # their row is only the log entry. Empty for exports made for download.
    output_path = models.CharField(max_length=1000, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.format} export of {self.project}"

    @staticmethod
    def partial_files(pk: int, output_path: str = "") -> list[Path]:
        """The half-written zips of export ``pk``: the worker's in MEDIA_ROOT or its temporary
        directory, and the command line's beside its ``output_path`` (jobs.py names them so)."""
        parts = [
            *(Path(settings.MEDIA_ROOT) / TEMP_DIR).glob(f"export-{pk}-*.zip.part"),
            *Path(tempfile.gettempdir()).glob(f"export-{pk}-*.zip.part"),
        ]
        if output_path:
            beside = (
                Path(tempfile.gettempdir())
                if output_path == STANDARD_OUTPUT
                else Path(output_path).parent
            )
            parts += beside.glob(f".export-{pk}-*.zip.part")
        return parts

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.comments_total:
            return 0
        return min(100, int(100 * self.comments_done / self.comments_total))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def is_downloadable(self) -> bool:
        """A finished export whose zip is kept here (command-line exports keep none)."""
        return self.status == self.Status.SUCCEEDED and bool(self.file)

    @property
    def format_label(self) -> str:
        """The format as the export page names it."""
        return FORMAT_LABELS.get(self.format, self.format)

    def options_summary(self) -> str:
        """What was asked, in a few words for the export log: format, labels, filters."""
        options = self.options or {}
        parts = [self.format_label]
        questions = options.get("questions") or ()
        parts.append(
            f"{len(questions)} question{'s' if len(questions) != 1 else ''}"
            if questions
            else "all questions"
        )
        parts.append(LABEL_SET_LABELS.get(options.get("labels"), "all annotators"))
        if not options.get("include_unlabelled", True):
            parts.append("labelled only")
        if options.get("pseudonymise"):
            parts.append("pseudonymised")
        if options.get("spreadsheet_safe"):
            parts.append("safe for spreadsheets")
        if options.get("predictions") is True:
            parts.append("model predictions")
        elif options.get("predictions") is False:
            parts.append("without model predictions")
        if options.get("split"):
            ratios = "/".join(f"{r:g}" for r in options.get("split_ratios") or ())
            parts.append(f"split {ratios} (seed {options.get('split_seed')})")
        if options.get("changed_since"):
            parts.append(f"changed since {options['changed_since'][:16].replace('T', ' ')}")
        return " · ".join(parts)
