"""Export jobs: recording what was asked, building the zip into storage, failing cleanly."""

import io
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from annotator.corpus.models import Comment
from annotator.datasets import jobs, package
from annotator.datasets.jobs import (
    ExportFailed,
    InvalidExportOptions,
    JobProgress,
    create_export_job,
    export_to_path,
    run_export_job,
    start_export,
)
from annotator.datasets.models import TEMP_DIR, ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from tests.datasets.corpus import make_labelled_corpus
from tests.factories import ArticleFactory, ProjectFactory, make_thread

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Exports go to a temporary MEDIA_ROOT, never to the developer's media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_BACKGROUND_COMMENTS = 5000
    return settings.MEDIA_ROOT


@pytest.fixture
def corpus(project):
    return make_labelled_corpus(project)


def zip_names(job: ExportJob) -> list[str]:
    with job.file.open("rb") as stream, zipfile.ZipFile(stream) as archive:
        return archive.namelist()


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def explode(*args, **kwargs):
    """A package that writes half a zip and then breaks."""
    destination = args[2]
    destination.write(b"PK\x03\x04 half a zip")
    raise RuntimeError("disk on fire")


# --- Starting ---------------------------------------------------------------------------------


def test_a_small_export_is_built_at_once_with_its_options_recorded(project, corpus, researcher):
    options = ExportOptions(format=ExportFormat.JSONL, labels=LabelSet.FINAL, pseudonymise=True)

    job = start_export(project, researcher, options)

    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.created_by == researcher
    assert job.format == "jsonl"
    assert ExportOptions.from_json(job.options) == options
    assert job.comments_total == job.comments_done == 6
    assert (job.articles, job.labelled_comments) == (2, 2)
    assert job.annotations == 4
    assert job.started_at <= job.finished_at
    assert job.error == ""
    assert job.file.name.startswith("exports/")
    assert job.filename.endswith(".zip")
    assert job.size_bytes == job.file.size > 0
    assert "README.md" in zip_names(job)


def test_a_large_export_is_queued_and_runs_once_the_transaction_commits(
    project, corpus, researcher, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_COMMENTS = 6

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = start_export(project, researcher, ExportOptions())
        assert job.status == ExportJob.Status.QUEUED
        assert job.comments_total == 6

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert "README.md" in zip_names(job)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (ExportOptions(questions=("stance_article", "mood")), "unknown question mood"),
        (ExportOptions(split=True, split_ratios=(0.8, 0.1, 0.2)), "must add up to 1"),
        (ExportOptions(split=True, split_ratios=(0.8, 0.1)), "three ratios"),
        (ExportOptions(split=True, split_ratios=(1.2, -0.1, -0.1)), "cannot be negative"),
    ],
)
def test_options_that_do_not_fit_are_refused_and_nothing_is_recorded(
    project, researcher, options, problem
):
    with pytest.raises(InvalidExportOptions) as refused:
        start_export(project, researcher, options)

    assert problem in str(refused.value)
    assert not ExportJob.objects.exists()


def test_ratios_are_not_checked_without_a_split(project, researcher):
    job = start_export(project, researcher, ExportOptions(split_ratios=(5, 5, 5)))

    assert job.status == ExportJob.Status.SUCCEEDED


# --- Running ----------------------------------------------------------------------------------


def test_the_zip_is_moved_into_place_and_no_temporary_file_is_left(project, corpus, media):
    job = start_export(project, None, ExportOptions())

    assert job.created_by is None
    assert files_under(media) == [media / job.file.name]
    assert (media / "exports" / "tmp").is_dir()


def test_two_exports_of_the_same_day_keep_their_own_files(project, corpus):
    first = start_export(project, None, ExportOptions())
    second = start_export(project, None, ExportOptions())

    assert first.file.name != second.file.name
    assert first.filename == second.filename  # what the download is called
    assert first.file.size > 0
    assert second.file.size > 0


def test_a_failed_export_says_why_and_keeps_no_half_file(project, corpus, media, monkeypatch):
    monkeypatch.setattr(package, "build_export", explode)

    job = start_export(project, None, ExportOptions())

    assert job.status == ExportJob.Status.FAILED
    assert job.error == "The export stopped: disk on fire (RuntimeError). No file was kept."
    assert not job.file
    assert job.size_bytes == 0
    assert job.finished_at is not None
    assert files_under(media) == []


def test_a_job_that_is_not_queued_is_left_alone(project, corpus):
    job = ExportJob.objects.create(
        project=project, format="jsonl", status=ExportJob.Status.SUCCEEDED
    )

    run_export_job(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert not job.file


# --- Progress ---------------------------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_at_most_every_half_second(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(jobs.time, "monotonic", clock)
    project = ProjectFactory(slug="progress")
    job = ExportJob.objects.create(project=project, format="jsonl", comments_total=10)
    echoed = []
    reporter = JobProgress(job, echo=lambda done, total: echoed.append(done))

    reporter(1, 10)  # too soon after the start
    clock.now += 0.6
    reporter(2, 10)
    clock.now += 0.1
    reporter(3, 10)  # too soon after the last write
    clock.now += 0.5
    reporter(4, 12)
    reporter(12, 12)  # the end is always echoed, and recorded with the outcome

    assert reporter.written == [2, 4]
    assert echoed == [2, 4, 12]
    job.refresh_from_db()
    assert (job.comments_done, job.comments_total) == (4, 12)


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_another_connection_while_the_export_runs(monkeypatch, settings):
    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0)
    # Another connection stands for the browser polling from another request. On PostgreSQL
    # the export reads inside a transaction, so progress must go through its own connection.
    browser = connections.create_connection(DEFAULT_DB_ALIAS)
    seen = []
    original = JobProgress.__call__

    def spy(self, done, total):
        original(self, done, total)
        with browser.cursor() as cursor:
            cursor.execute(
                "SELECT comments_done FROM datasets_exportjob WHERE id = %s", [self.job.pk]
            )
            seen.append(cursor.fetchone()[0])

    monkeypatch.setattr(JobProgress, "__call__", spy)
    project = ProjectFactory(slug="progress")
    make_thread(ArticleFactory(project=project), 5000)  # three chunks of the row stream
    job = create_export_job(project, None, ExportOptions(format=ExportFormat.CSV))

    try:
        run_export_job(job.pk)
    finally:
        browser.close()

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert len(set(seen)) >= 2
    assert seen == sorted(seen)
    assert 0 < max(seen) < 5000
    assert job.comments_done == 5000


# --- The command line's variant ---------------------------------------------------------------


def test_export_to_path_writes_the_zip_there_and_logs_it(project, corpus, tmp_path, media):
    target = tmp_path / "out" / "corpus.zip"
    target.parent.mkdir()

    job = export_to_path(project, ExportOptions(format=ExportFormat.CSV), str(target))

    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.output_path == str(target)
    assert not job.file
    assert job.size_bytes == target.stat().st_size
    with zipfile.ZipFile(target) as archive:
        assert "README.md" in archive.namelist()
    assert list(target.parent.iterdir()) == [target]
    assert files_under(media) == []


def test_export_to_path_streams_to_stdout(project, corpus):
    out = io.BytesIO()

    job = export_to_path(project, ExportOptions(), "-", stdout=out)

    assert job.output_path == "(standard output)"
    assert zipfile.ZipFile(io.BytesIO(out.getvalue())).testzip() is None
    assert job.size_bytes == len(out.getvalue())


class BrokenPipe(io.RawIOBase):
    """Standard output whose reader went away (``export_corpus ... -o - | head``)."""

    def write(self, data):
        raise BrokenPipeError(32, "Broken pipe")


def test_export_to_path_records_a_failure_to_write_and_leaves_no_temporary_file(
    project, corpus, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    with pytest.raises(ExportFailed, match=r"^-: cannot write there \(Broken pipe\)$"):
        export_to_path(project, ExportOptions(), "-", stdout=BrokenPipe())

    assert list(tmp_path.glob("*.part")) == []
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "-: cannot write there (Broken pipe)"


def test_export_to_path_refuses_a_missing_directory_before_recording_anything(project, tmp_path):
    with pytest.raises(ExportFailed, match="no such directory"):
        export_to_path(project, ExportOptions(), str(tmp_path / "nope" / "corpus.zip"))

    assert not ExportJob.objects.exists()
    assert Comment.objects.count() == 0


# --- A worker that died -----------------------------------------------------------------------


def left_running(job: ExportJob, age: float) -> None:
    """Leave ``job`` as a killed worker does: RUNNING, its last heartbeat ``age`` s ago."""
    then = timezone.now() - timedelta(seconds=age)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, started_at=then, heartbeat_at=then
    )


def test_a_stale_export_is_failed_and_its_half_zip_removed(project, media, settings):
    settings.JOB_STALE_AFTER = 60
    job = create_export_job(project, None, ExportOptions())
    left_running(job, age=120)
    part = media / TEMP_DIR / f"export-{job.pk}-abc123.zip.part"
    other = media / TEMP_DIR / f"export-{job.pk + 1}-abc123.zip.part"  # another job's
    part.parent.mkdir(parents=True)
    part.write_bytes(b"PK half")
    other.write_bytes(b"PK half")

    assert ExportJob.objects.fail_stale(project=project) == [job.pk]

    job.refresh_from_db()
    assert job.worker_stopped
    assert job.error == "The worker stopped: no file was kept. Run it again."
    assert not part.exists()
    assert other.exists()


def test_an_export_with_a_fresh_heartbeat_is_left_running(project, settings):
    settings.JOB_STALE_AFTER = 60
    job = create_export_job(project, None, ExportOptions())
    left_running(job, age=5)

    assert job.fail_if_stale() is False
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING


@pytest.mark.django_db(transaction=True)  # as in the worker: no transaction around the export
def test_the_running_export_writes_its_heartbeat_with_its_progress():
    job = create_export_job(ProjectFactory(slug="beating"), None, ExportOptions())
    left_running(job, age=600)
    before = ExportJob.objects.get(pk=job.pk).heartbeat_at
    progress = jobs.JobProgress(job)
    progress.last = 0  # as if the last write was long ago

    progress(5, 10)

    assert ExportJob.objects.get(pk=job.pk).heartbeat_at > before


def test_a_worker_finishing_after_the_reaper_keeps_no_file_and_the_verdict_stands(
    project, corpus, media, settings, monkeypatch
):
    settings.JOB_STALE_AFTER = 60
    job = create_export_job(project, None, ExportOptions())
    real_record = jobs._record_success

    def record_late(*args, **kwargs):
        # The zip is in storage, but the worker stalled and the reaper ran meanwhile.
        left_running(job, age=120)
        assert ExportJob.objects.fail_stale() == [job.pk]
        return real_record(*args, **kwargs)

    monkeypatch.setattr(jobs, "_record_success", record_late)

    run_export_job(job.pk)

    job.refresh_from_db()
    assert job.worker_stopped
    assert not job.file
    assert files_under(media) == []
