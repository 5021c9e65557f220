"""Running exports as ``ExportJob`` rows: the one path the page, the API and the command take.

``start_export`` records what was asked and either builds the zip at once (small projects)
or queues it for the background worker, like imports do. ``run_export_job`` builds the zip
into a temporary file, streaming, and only moves it into the job's ``file`` once it is
complete, so a job never points at half a zip: inside MEDIA_ROOT when files are kept there
(the move is a rename), in the worker's temporary directory when they go to an object store
(the upload is multipart, in parts of ``STORAGE_PART_BYTES``, and is aborted if it fails).
``export_to_path`` is the command line's synchronous variant: it writes to a path of the
user's choosing and keeps the row as the export log's entry. A command-line export that is
interrupted (Ctrl-C, SIGTERM) removes its temporary file itself; one that was killed leaves
it, and the next export into that directory removes it once nobody has written to it for
``JOB_STALE_AFTER`` (``remove_abandoned_parts``), as the reaper does when it fails the job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage
from django.db import connection
from django.utils import timezone

from annotator.corpus.heartbeats import BeatApart, stale, stale_cutoff
from annotator.corpus.models import Comment, Project
from annotator.corpus.stored_files import is_object_store
from annotator.corpus.uploads import is_store_failure
from annotator.datasets.models import STANDARD_OUTPUT, TEMP_DIR, ExportJob
from annotator.datasets.options import ExportOptions, ExportOptionsError
from annotator.datasets.predictions import project_has_models
from annotator.labelling.schemes import current_scheme_for

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

PROGRESS_INTERVAL = 0.5  # seconds between writes of comments_done to the job's row
PART_PREFIX = ".export-"  # the command line's temporary zip: .export-<job id>-<random>.zip.part
PART_SUFFIX = ".zip.part"
INTERRUPTED = "The export was interrupted before it finished: no file was written."
STORE_FAILED = (
    "The export was built, but the file store could not be reached to keep it: no file was "
    "kept. Run it again once the store answers."
)
RATIO_TOLERANCE = 1e-6


class InvalidExportOptions(ValueError):
    """Options that cannot be exported for this project; ``problems`` says why, one per item."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class ExportFailed(Exception):
    """An export that stopped; the message is the one line recorded as the job's error."""


# --- Checking and starting ----------------------------------------------------------------------


def question_keys(project: Project) -> list[str]:
    """The keys of the questions of the project's current scheme, in the scheme's order."""
    return [question.key for question in current_scheme_for(project).scheme.questions]


def options_problems(
    project: Project, options: ExportOptions, keys: list[str] | None = None
) -> list[str]:
    """What is wrong with ``options`` for ``project`` (an empty list when nothing is).

    The export page, the API and the command line all ask this, so an export is refused for
    the same reasons wherever it is asked for. ``keys`` saves the scheme lookup when the
    caller already has the question keys.
    """
    problems = []
    known = question_keys(project) if keys is None else keys
    unknown = [key for key in options.questions if key not in known]
    if unknown:
        problems.append(
            f"unknown question{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"the scheme asks {', '.join(known)}"
        )
    if options.split:
        problems.extend(split_problems(options.split_ratios))
        if options.split_seed < 0:
            problems.append("the split seed must be zero or more")
    return problems


def split_problems(ratios: tuple[float, ...]) -> list[str]:
    """Why ``ratios`` are not a train/dev/test split (three shares, none negative, sum 1)."""
    if len(ratios) != 3:
        return ["a split needs three ratios: train, dev and test"]
    if any(ratio < 0 for ratio in ratios):
        return ["split ratios cannot be negative"]
    if abs(sum(ratios) - 1) > RATIO_TOLERANCE:
        shares = " + ".join(f"{ratio:g}" for ratio in ratios)
        return [f"split ratios must add up to 1 ({shares} = {sum(ratios):g})"]
    return []


def create_export_job(
    project: Project,
    user,
    options: ExportOptions,
    *,
    status: ExportJob.Status = ExportJob.Status.QUEUED,
    output_path: str = "",
) -> ExportJob:
    """Record an export with its options and the project's comment count (the bar's 100%).

    Raises ``InvalidExportOptions`` and writes nothing when the options do not fit.
    ``predictions`` is recorded as what was decided: True (asked for or left to the
    default) or False (left out) when the project has models, None when it has none.
    """
    problems = options_problems(project, options)
    if problems:
        raise InvalidExportOptions(problems)
    if not project_has_models(project):
        options = replace(options, predictions=None)
    elif options.predictions is None:
        options = replace(options, predictions=True)
    return ExportJob.objects.create(
        project=project,
        created_by=user if user is not None and user.is_authenticated else None,
        status=status,
        started_at=timezone.now() if status == ExportJob.Status.RUNNING else None,
        heartbeat_at=timezone.now() if status == ExportJob.Status.RUNNING else None,
        format=str(options.format),
        options=options.to_json(),
        comments_total=Comment.objects.filter(article__project=project).count(),
        output_path=output_path,
    )


def start_export(project: Project, user, options: ExportOptions) -> ExportJob:
    """Record an export and build it: now when the project is small, else in the background.

    Below ``EXPORT_BACKGROUND_COMMENTS`` comments the zip is built inside this call (it takes
    well under a second) and the job comes back finished; above, the job comes back queued
    and the worker picks it up once the current transaction commits.
    """
    from annotator.datasets.tasks import enqueue_export

    job = create_export_job(project, user, options)
    if job.comments_total < settings.EXPORT_BACKGROUND_COMMENTS:
        run_export_job(job.pk)
        job.refresh_from_db()
    else:
        enqueue_export(job)
    return job


# --- Running ------------------------------------------------------------------------------------


def run_export_job(job_id: int) -> ExportJob:
    """Build the zip of the queued job ``job_id`` into its ``file`` and record the outcome.

    The job ends SUCCEEDED with its counts and size or FAILED with the reason, never
    RUNNING. A job that is no longer queued (a task delivered twice) is left as it is, and
    so is one the reaper failed while it ran (corpus/heartbeats.py): its zip is not kept.
    """
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        comments_done=0,
        error="",
    )
    job = ExportJob.objects.select_related("project").get(pk=job_id)
    if not claimed:
        return job
    storage = job.file.storage
    temp_dir = export_temp_dir(storage)
    temp_dir.mkdir(parents=True, exist_ok=True)
    stored = ""
    with tempfile.NamedTemporaryFile(
        dir=temp_dir, prefix=f"export-{job.pk}-", suffix=".zip.part", delete=False
    ) as temp:
        temp_path = Path(temp.name)
    try:
        with temp_path.open("wb") as destination:
            summary = _build(job, destination)
        filename = summary.filename or default_filename(job)
        target = job.file.field.generate_filename(job, filename)
        with temp_path.open("rb") as complete:
            stored = storage.save(target, _CompleteFile(complete, temp_path))
        job.file.name = stored
        job.filename = filename
        if not _record_success(job, summary, size=storage.size(stored)):
            _discard(storage, stored)  # the reaper failed the job meanwhile: keep nothing
    except ExportFailed as error:
        _discard(storage, stored)
        _record_failure(job, str(error))
    except Exception as error:  # never leave the job RUNNING, whatever broke
        _discard(storage, stored)
        if is_store_failure(error):
            logger.warning("export job %s could not be stored: %s", job.pk, error)
            _record_failure(job, STORE_FAILED)
        else:
            logger.exception("export job %s could not be stored", job.pk)
            _record_failure(job, _unexpected(error))
    finally:
        temp_path.unlink(missing_ok=True)
    return job


def export_temp_dir(storage: Storage) -> Path:
    """Where the worker builds an export's zip before storing it: beside the files in
    MEDIA_ROOT (so storing it is a rename), or the temporary directory for an object store
    (a worker host needs room there for the largest export)."""
    if is_object_store(storage):
        return Path(tempfile.gettempdir())
    return Path(settings.MEDIA_ROOT) / TEMP_DIR


def _discard(storage: Storage, name: str) -> None:
    """Remove the stored zip ``name`` of an export that is not kept (if it got that far)."""
    if name:
        try:
            storage.delete(name)
        except Exception:  # the store failing twice must not leave the job RUNNING
            logger.exception("could not remove the stored export %s", name)


def export_to_path(
    project: Project,
    options: ExportOptions,
    output: str,
    progress: Progress | None = None,
    stdout: BinaryIO | None = None,
) -> ExportJob:
    """Build an export synchronously into the file ``output`` (``-``: ``stdout``), logged as a job.

    The zip is written next to ``output`` under a temporary name and renamed at the end, so
    an export that stops leaves no half zip at ``output``. The job row records the options,
    the counts and where the file went; it keeps no copy of the file. Raises
    ``InvalidExportOptions`` before anything is written, or ``ExportFailed`` (recorded on
    the row too) when the export stops.
    """
    to_stdout = output == "-"
    if not to_stdout:
        target = Path(output).expanduser().absolute()
        if not target.parent.is_dir():
            raise ExportFailed(f"{output}: no such directory {target.parent}")
        if target.is_dir():
            raise ExportFailed(f"{output} is a directory; give a file name ending in .zip")
    job = create_export_job(
        project,
        None,
        options,
        status=ExportJob.Status.RUNNING,
        output_path=STANDARD_OUTPUT if to_stdout else str(target),
    )
    temp_dir = Path(tempfile.gettempdir()) if to_stdout else target.parent
    remove_abandoned_parts(temp_dir)
    try:
        with tempfile.NamedTemporaryFile(
            dir=temp_dir, prefix=f"{PART_PREFIX}{job.pk}-", suffix=PART_SUFFIX, delete=False
        ) as temp:
            temp_path = Path(temp.name)
    except OSError as error:
        _record_failure(job, f"{output}: cannot write there ({error.strerror})")
        raise ExportFailed(job.error) from None
    try:
        with temp_path.open("wb") as destination:
            summary = _build(job, destination, echo=progress)
        if to_stdout:
            with temp_path.open("rb") as complete:
                shutil.copyfileobj(complete, stdout)
            stdout.flush()
        else:
            os.replace(temp_path, target)
        job.filename = summary.filename or default_filename(job)
        _record_success(job, summary, size=summary.bytes)
    except ExportFailed as error:
        _record_failure(job, str(error))
        raise
    except OSError as error:
        _record_failure(job, f"{output}: cannot write there ({error.strerror or error})")
        raise ExportFailed(job.error) from None
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (export_corpus): say so, stop
        with contextlib.suppress(Exception):
            _record_failure(job, INTERRUPTED)
        raise
    finally:
        temp_path.unlink(missing_ok=True)
    return job


def remove_abandoned_parts(directory: Path) -> list[Path]:
    """Remove the command line's temporary zips in ``directory`` that a killed export left.

    A part is abandoned when nobody wrote to it for ``JOB_STALE_AFTER`` seconds and its job
    (named in the file name) is not running with a fresh heartbeat: a live export, even a
    slow one, keeps its part. Returns the files removed.
    """
    cutoff = stale_cutoff()
    removed = []
    for part in directory.glob(f"{PART_PREFIX}*{PART_SUFFIX}"):
        try:
            if part.stat().st_mtime >= cutoff.timestamp():
                continue
            job_id = part.name.removeprefix(PART_PREFIX).split("-", 1)[0]
            if job_id.isdigit():
                running = ExportJob.objects.filter(pk=int(job_id), status=ExportJob.Status.RUNNING)
                if running.exists() and not running.filter(stale(cutoff)).exists():
                    continue
            part.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to remove
        removed.append(part)
    if removed:
        logger.info("removed %s abandoned temporary export file(s) in %s", len(removed), directory)
    return removed


def default_filename(job: ExportJob) -> str:
    """The download's name when the package names none: project, date and format."""
    return f"{job.project.slug}-{job.created_at:%Y%m%d-%H%M}-{job.format}.zip"


def _build(job: ExportJob, destination: BinaryIO, echo: Progress | None = None):
    """Run ``build_export`` for ``job`` into ``destination``; any error becomes ExportFailed.

    The package is imported here, not at the top: it pulls in pyarrow, which every other
    page that imports this module (through the URLs) has no use for.
    """
    from annotator.datasets import package

    reporter = JobProgress(job, echo=echo)
    try:
        summary = package.build_export(
            job.project, ExportOptions.from_json(job.options), destination, progress=reporter
        )
    except ExportOptionsError as error:  # the package's own refusal: its message is clear
        raise ExportFailed(str(error)) from error
    except Exception as error:
        logger.exception("export job %s stopped", job.pk)
        raise ExportFailed(_unexpected(error)) from error
    finally:
        reporter.close()
    if echo is not None and not reporter.ended:
        echo(summary.comments, summary.comments)  # a bar ends at 100% whatever was reported
    return summary


def _unexpected(error: Exception) -> str:
    """The error line for an export that stopped on something nobody foresaw."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"The export stopped: {reason} ({type(error).__name__}). No file was kept."


def _record_success(job: ExportJob, summary, size: int) -> bool:
    """Mark ``job`` ready with what the package counted, unless the reaper failed it first
    (then False, and the row keeps the reaper's message)."""
    job.status = ExportJob.Status.SUCCEEDED
    job.finished_at = timezone.now()
    job.size_bytes = size
    job.comments_done = job.comments_total = summary.comments
    job.articles = summary.articles
    job.labelled_comments = summary.labelled_comments
    job.annotations = summary.annotations
    job.error = ""
    fields = [
        "status",
        "finished_at",
        "size_bytes",
        "comments_done",
        "comments_total",
        "articles",
        "labelled_comments",
        "annotations",
        "error",
        "file",
        "filename",
    ]
    return _save_if_running(job, fields)


def _record_failure(job: ExportJob, message: str) -> None:
    """Mark ``job`` failed with ``message``; it keeps no file."""
    job.status = ExportJob.Status.FAILED
    job.finished_at = timezone.now()
    job.error = message
    job.file = ""
    job.size_bytes = 0
    _save_if_running(job, ["status", "finished_at", "error", "file", "size_bytes"])


def _save_if_running(job: ExportJob, fields: list[str]) -> bool:
    """Write ``fields`` of ``job`` only if its row is still RUNNING (one conditional UPDATE),
    so a worker finishing late never overwrites the reaper's verdict; else reload the row."""
    values = {name: getattr(job, name) for name in fields}
    values["file"] = job.file.name or ""
    if ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(**values):
        return True
    job.refresh_from_db()
    return False


class _CompleteFile(File):
    """A finished temporary file: FileSystemStorage moves it into place instead of copying."""

    def __init__(self, file: BinaryIO, path: Path):
        super().__init__(file, name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


class JobProgress:
    """A progress callback that writes ``comments_done`` and the heartbeat on the job's row.

    Writes at most every ``PROGRESS_INTERVAL`` seconds. When the export runs inside a
    transaction on PostgreSQL, the write goes through a connection of its own that commits
    at once, so a browser polling from another request sees it; SQLite allows one writer, so
    there such writes are skipped. ``echo`` (the command line's bar) hears every write.
    ``written`` keeps the values written, in order.
    """

    def __init__(self, job: ExportJob, echo: Progress | None = None):
        self.job = job
        self.echo = echo
        self.written: list[int] = []
        self.ended = False  # whether the end (done == total) was reported
        self.last = time.monotonic()  # the first write after an interval, none for tiny exports
        self._apart = BeatApart(ExportJob, job.pk)

    def __call__(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` comments, unless the last write was a moment ago."""
        now = time.monotonic()
        if done < total and now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        if self.echo is not None:
            self.echo(done, total)
        if done >= total:
            self.ended = True
            return  # the end is recorded with the outcome
        if not connection.in_atomic_block:
            ExportJob.objects.filter(pk=self.job.pk).update(
                comments_done=done, comments_total=total, heartbeat_at=timezone.now()
            )
        elif connection.vendor == "postgresql":
            self._apart.write(comments_done=done, comments_total=total)
        else:
            return
        self.written.append(done)

    def close(self) -> None:
        """Close the progress connection, if one was opened."""
        self._apart.close()
