"""``manage.py export_corpus``: the formats.md contract, its options and its one-line errors."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import Tags
from django.core.management import CommandError, ManagementUtility, call_command
from django.test.utils import override_system_checks
from django.utils import timezone

from annotator.datasets.jobs import INTERRUPTED, create_export_job
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from tests.datasets.corpus import make_labelled_corpus
from tests.datasets.test_tasks import big_corpus
from tests.factories import ProjectFactory, make_model
from tests.worker import database_url, kill, start_manage, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def corpus(project):
    return make_labelled_corpus(project)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_corpus", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_it_writes_a_zip_with_the_card_and_the_data(project, corpus, tmp_path, fmt):
    target = tmp_path / f"corpus-{fmt}.zip"

    out, err = run("--project", project.slug, "--format", fmt, "--output", str(target))

    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert "README.md" in names
        assert any(name.endswith(f".{fmt}") for name in names)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert (job.format, job.output_path, job.created_by) == (fmt, str(target), None)
    assert out.strip() == (
        f"{target}: {job.articles} articles, 6 comments (2 labelled, 4 annotations), "
        f"{target.stat().st_size} bytes (export #{job.pk})"
    )
    assert err == ""  # no bar when stderr is not a terminal


def test_the_options_flags_are_recorded_on_the_job(project, corpus, tmp_path):
    target = tmp_path / "corpus.zip"

    run(
        "--project",
        project.slug,
        "--format",
        "csv",
        "--output",
        str(target),
        "--questions",
        "stance_article, claim_type",
        "--final",
        "--labelled-only",
        "--pseudonymise",
        "--split",
        "--seed",
        "7",
        "--ratios",
        "0.6,0.2,0.2",
        "--changed-since",
        "2026-01-31T12:00",
    )

    options = ExportOptions.from_json(ExportJob.objects.get().options)
    assert options.format == ExportFormat.CSV
    assert options.questions == ("stance_article", "claim_type")
    assert options.labels == LabelSet.FINAL
    assert (options.include_unlabelled, options.pseudonymise) == (False, True)
    assert (options.split, options.split_seed, options.split_ratios) == (True, 7, (0.6, 0.2, 0.2))
    assert options.changed_since.isoformat() == "2026-01-31T12:00:00+00:00"


def test_a_progress_bar_is_drawn_when_asked(project, corpus, tmp_path, monkeypatch):
    from annotator.datasets import jobs

    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0)

    _, err = run(
        "--project", project.slug, "--format", "jsonl", "--output", str(tmp_path / "c.zip"),
        "--progress",
    )  # fmt: skip

    assert "\rexport [" in err
    assert err.count("100%") == 1  # ends once, at 100%


def test_dash_writes_the_zip_to_stdout_and_the_report_to_stderr(project, corpus, capfdbinary):
    argv = ["manage.py", "export_corpus", "--project", project.slug, "--format", "csv"]

    ManagementUtility([*argv, "--output", "-"]).execute()

    captured = capfdbinary.readouterr()
    assert zipfile.ZipFile(io.BytesIO(captured.out)).testzip() is None
    assert captured.err.startswith(b"(standard output): ")
    assert b" articles, 6 comments (2 labelled, 4 annotations)" in captured.err


@pytest.mark.parametrize(
    ("changes", "flags", "message"),
    [
        ({"--project": "nope"}, [], "no project with the slug 'nope'"),
        (
            {"--format": "xml"},
            [],
            "unknown format 'xml': use one of jsonl, json, csv, parquet, convokit, rumoureval",
        ),
        ({}, ["--questions", "stance_article,mood"], "unknown question mood"),
        ({}, ["--questions", ","], "--questions needs at least one question key"),
        ({}, ["--seed", "3"], "--seed and --ratios only apply with --split"),
        ({}, ["--split", "--seed", "x"], "--seed 'x': not a whole number"),
        ({}, ["--split", "--ratios", "0.5,0.5,0.5"], "split ratios must add up to 1"),
        ({}, ["--split", "--ratios", "a,b"], "--ratios 'a,b': three numbers like 0.8,0.1,0.1"),
        ({}, ["--changed-since", "yesterday"], "--changed-since 'yesterday': not an ISO 8601"),
        ({"--output": "/no/such/dir/c.zip"}, [], "c.zip: no such directory /no/such/dir"),
    ],
)
def test_a_bad_argument_is_one_line_and_writes_nothing(project, tmp_path, changes, flags, message):
    target = tmp_path / "c.zip"
    base = {"--project": project.slug, "--format": "jsonl", "--output": str(target), **changes}
    argv = [item for pair in base.items() for item in pair] + flags

    with pytest.raises(CommandError) as refused:
        run(*argv)

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not ExportJob.objects.exists()
    assert not target.exists()


def test_an_unknown_project_exits_non_zero_from_the_shell(db, tmp_path, capsys):
    argv = ["manage.py", "export_corpus", "--project", "nope", "--format", "csv"]

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility([*argv, "--output", str(tmp_path / "c.zip")]).execute()

    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert err == "CommandError: no project with the slug 'nope'\n"


# --- A real export_corpus process, stopped in the middle of writing -----------------------------


def abandoned_part(directory: Path, name: str, age: float) -> Path:
    """A temporary zip as a killed export leaves it, last written ``age`` seconds ago."""
    part = directory / name
    part.write_bytes(b"PK half a zip")
    moment = time.time() - age
    os.utime(part, (moment, moment))
    return part


def test_the_next_export_removes_the_parts_killed_exports_left_and_no_live_ones(
    project, corpus, settings, tmp_path
):
    settings.JOB_STALE_AFTER = 60
    now = timezone.now()
    live = create_export_job(project, None, ExportOptions(), status=ExportJob.Status.RUNNING)
    dead = create_export_job(project, None, ExportOptions(), status=ExportJob.Status.RUNNING)
    ExportJob.objects.filter(pk=dead.pk).update(heartbeat_at=now - timedelta(seconds=120))
    killed = abandoned_part(tmp_path, f".export-{dead.pk}-a1b2.zip.part", age=120)
    from_before = abandoned_part(tmp_path, ".export-x9y8.zip.part", age=120)
    slow = abandoned_part(tmp_path, f".export-{live.pk}-c3d4.zip.part", age=120)
    writing = abandoned_part(tmp_path, ".export-e5f6.zip.part", age=1)
    someone_elses = abandoned_part(tmp_path, "notes.zip.part", age=120)

    run("--project", project.slug, "--format", "jsonl", "--output", str(tmp_path / "c.zip"))

    assert not killed.exists() and not from_before.exists()
    assert slow.exists() and writing.exists() and someone_elses.exists()
    assert zipfile.is_zipfile(tmp_path / "c.zip")


def exporting(out: Path) -> Callable[[], bool]:
    """The command is writing: its job running with some comments done, its part in ``out``."""

    def check() -> bool:
        running = ExportJob.objects.filter(status=ExportJob.Status.RUNNING, comments_done__gt=0)
        return running.exists() and any(out.glob(".export-*"))

    return check


def start_export_command(media: Path, project, output: Path) -> subprocess.Popen:
    """``manage.py export_corpus`` in a process of its own, with Ctrl-C raising
    KeyboardInterrupt (a process started in the background would otherwise ignore it)."""
    return start_manage(
        media,
        *("export_corpus", "--project", project.slug, "--format", "jsonl"),
        *("--output", str(output)),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# Large enough that the export is still writing when the test acts: since the export got
# faster (ISA-L deflate), 60,000 comments sometimes finished between two polls on CI.
KILL_TEST_COMMENTS = 150_000


@pytest.mark.django_db(transaction=True)
def test_a_killed_export_leaves_its_part_and_the_reaper_removes_it(settings, tmp_path):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    settings.JOB_STALE_AFTER = 60
    database_url()  # skips where the process cannot share the test database
    project = ProjectFactory(slug="killed-command")
    big_corpus(project, KILL_TEST_COMMENTS, tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    process = start_export_command(media, project, out / "corpus.zip")
    try:
        wait_for(exporting(out), 120, "the export to be writing", worker=process)
    finally:
        kill(process)

    [part] = out.iterdir()
    assert part.name.startswith(".export-") and part.name.endswith(".zip.part")
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    call_command("fail_stale_jobs", stdout=io.StringIO())

    job.refresh_from_db()
    assert job.worker_stopped
    assert list(out.iterdir()) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_an_export_stopped_by_a_signal_removes_its_part_and_says_so(
    settings, tmp_path, signum, code, word
):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    database_url()
    project = ProjectFactory(slug="stopped-command")
    big_corpus(project, KILL_TEST_COMMENTS, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "corpus.zip"

    process = start_export_command(media, project, target)
    try:
        wait_for(exporting(out), 120, "the export to be writing", worker=process)
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        kill(process)

    assert process.returncode == code, output
    assert output.strip().splitlines() == [f"CommandError: {word}: nothing was written to {target}"]
    assert list(out.iterdir()) == []
    job = ExportJob.objects.get()
    assert (job.status, job.error) == (ExportJob.Status.FAILED, INTERRUPTED)


def test_it_runs_the_model_checks_but_not_those_that_load_every_view(project, tmp_path):
    # Checking the URLs imports every view of the site: most of a second of start-up.
    ran = []

    def models_check(app_configs, **kwargs):
        ran.append("models")
        return []

    def urls_check(app_configs, **kwargs):
        ran.append("urls")
        return []

    models_check.tags = [Tags.models]
    urls_check.tags = [Tags.urls]
    target = tmp_path / "corpus.zip"

    with override_system_checks([models_check, urls_check]):
        call_command(
            "export_corpus",
            *("--project", project.slug, "--format", "jsonl", "--output", str(target)),
            skip_checks=False,
            stdout=io.StringIO(),
        )

    assert ran == ["models"]
    assert target.exists()


def test_it_exports_json_lines_without_importing_pyarrow():
    # pyarrow is the Parquet exporter's alone; importing it costs every other export.
    code = (
        "import sys, django; django.setup()\n"
        "from annotator.datasets.exporters import exporter_for\n"
        "from annotator.datasets.package import build_export\n"
        "exporter_for('jsonl'); exporter_for('csv'); exporter_for('json')\n"
        "print('pyarrow' in sys.modules)\n"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings"}
    environment.setdefault("SECRET_KEY", "test-only")
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    assert output.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("flags", "recorded"), [((), True), (("--predictions",), True), (("--no-predictions",), False)]
)
def test_the_predictions_flags_are_recorded_on_the_job(project, corpus, tmp_path, flags, recorded):
    make_model(project, "stance-bert")
    target = tmp_path / "corpus.zip"

    run("--project", project.slug, "--format", "jsonl", "--output", str(target), *flags)

    assert ExportOptions.from_json(ExportJob.objects.get().options).predictions is recorded
