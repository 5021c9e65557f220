"""``manage.py export_corpus``: the formats.md contract, its options and its one-line errors."""

import io
import zipfile

import pytest
from django.core.management import CommandError, ManagementUtility, call_command

from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from tests.datasets.corpus import make_labelled_corpus

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
        ({"--format": "xml"}, [], "unknown format 'xml': use one of jsonl, json, csv, parquet"),
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
