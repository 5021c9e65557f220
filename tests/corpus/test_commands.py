"""The command line: import_threads (formats.md contract) and load_demo (the quick start)."""

import errno
import io
import stat
from pathlib import Path

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, ManagementUtility, call_command

from annotator.corpus.importers import ACCEPTED
from annotator.corpus.models import Article, Comment, Membership, Project, Role
from annotator.corpus.uploads import NO_SPACE_MESSAGE
from tests.factories import ProjectFactory

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "thread.jsonl"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write_jsonl(path: Path, *records: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def test_import_threads_creates_the_project_and_says_what_it_added(db):
    out, err = run("import_threads", str(SAMPLE), "--project", "new-project")

    project = Project.objects.get(slug="new-project")
    assert project.name == "new-project"
    assert Comment.objects.filter(article__project=project).count() == 8
    assert "Created project new-project." in out
    assert f"{SAMPLE}: 2 articles added (0 already there), 8 comments added" in out
    assert err == ""


def test_import_threads_twice_adds_nothing_the_second_time(project):
    run("import_threads", str(SAMPLE), "--project", project.slug)

    out, _ = run("import_threads", str(SAMPLE), "--project", project.slug)

    assert "0 articles added (2 already there), 0 comments added (8 already there)" in out
    assert Comment.objects.count() == 8


def test_a_refused_file_names_file_and_line_and_nothing_is_written(db, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", {"type": "article", "id": "a", "title": "T"})
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        {"type": "comment", "id": "c1", "article_id": "a", "text": "hi"},
        {"type": "comment", "id": "c1", "article_id": "a", "text": "again"},
    )

    with pytest.raises(CommandError) as refused:
        run("import_threads", str(good), str(bad), "--project", "fresh")

    assert str(refused.value).startswith(
        'bad.jsonl, line 2: duplicate comment id "c1" in article "a" (also on line 1)'
    )
    assert "\n" not in str(refused.value)
    assert not Project.objects.filter(slug="fresh").exists()
    assert (Article.objects.count(), Comment.objects.count()) == (0, 0)


def test_a_refused_file_exits_non_zero_from_the_shell(db, tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", {"type": "comment", "id": "c1"})

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "import_threads", str(bad), "--project", "p"]).execute()

    assert exit_info.value.code != 0
    assert "bad.jsonl, line 1: comment without" in capsys.readouterr().err


PDF = Path(__file__).resolve().parents[2] / "fixtures/samples/refused/article.pdf"


@pytest.mark.parametrize("fmt", ["auto", "text"])
def test_a_pdf_is_refused_in_one_line_saying_what_it_is(db, fmt):
    with pytest.raises(CommandError) as refused:
        run("import_threads", str(PDF), "--project", "fresh", "--format", fmt)

    assert str(refused.value) == (
        f"article.pdf: This is a PDF document, not a comment thread. {ACCEPTED} "
        "(nothing was imported)"
    )
    assert not Project.objects.filter(slug="fresh").exists()
    assert not Article.objects.exists()


def test_a_pdf_exits_non_zero_from_the_shell(db, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "import_threads", str(PDF), "--project", "p"]).execute()

    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "This is a PDF document" in err
    assert err.strip().count("\n") == 0


def test_a_full_disk_is_one_line_having_written_nothing(db, monkeypatch):
    from annotator.corpus.importers import row_writers

    def full(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(row_writers._RowWriter, "add_article", full)

    # A CommandError is a non-zero exit with its one line on stderr (see the shell test).
    with pytest.raises(CommandError) as refused:
        run("import_threads", str(SAMPLE), "--project", "p")

    assert str(refused.value) == NO_SPACE_MESSAGE
    assert (Project.objects.count(), Article.objects.count(), Comment.objects.count()) == (0, 0, 0)


def test_a_missing_path_is_refused(db):
    with pytest.raises(CommandError, match=r"no-such\.jsonl: no such file"):
        run("import_threads", "no-such.jsonl", "--project", "p")


def test_the_format_can_be_forced(project, tmp_path):
    path = write_jsonl(tmp_path / "thread.data", {"type": "article", "id": "a", "title": "T"})

    out, _ = run("import_threads", str(path), "--project", project.slug, "--format", "jsonl")

    assert "1 articles added" in out


def test_the_progress_bar_goes_to_stderr_when_asked(project):
    out, err = run("import_threads", str(SAMPLE), "--project", project.slug, "--progress")

    assert "100%" in err
    assert "thread.jsonl [" in err
    assert "%" not in out


# --- load_demo ---------------------------------------------------------------------------------


@pytest.fixture
def seed_importer():
    """The demo imports the seed through the scraped-text parser."""
    pytest.importorskip("annotator.corpus.importers.text")


def test_load_demo_creates_admin_project_and_seed(db, tmp_path, seed_importer):
    password_file = tmp_path / "secret" / "password.txt"

    out, _ = run("load_demo", "--password-file", str(password_file))

    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    project = Project.objects.get(slug="demo")
    assert project.name == "Demo: Aleppo ceasefire"
    assert Membership.objects.get(project=project, user=admin).role == Role.ADMIN
    assert Comment.objects.filter(article__project=project).count() > 40
    assert "http://127.0.0.1:8000/" in out
    assert "Username: admin" in out
    assert f"Password: {password}" in out


def test_load_demo_twice_changes_nothing_and_prints_the_same_login(db, tmp_path, seed_importer):
    password_file = tmp_path / "password.txt"
    first, _ = run("load_demo", "--password-file", str(password_file))
    counts = (Project.objects.count(), Article.objects.count(), Comment.objects.count())

    second, _ = run("load_demo", "--password-file", str(password_file))

    assert (Project.objects.count(), Article.objects.count(), Comment.objects.count()) == counts
    assert first.splitlines()[-1] == second.splitlines()[-1]
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_load_demo_reuses_an_existing_password_file(db, tmp_path, seed_importer):
    password_file = tmp_path / "password.txt"
    password_file.write_text("kept-password\n")

    out, _ = run("load_demo", "--password-file", str(password_file))

    assert get_user_model().objects.get(username="admin").check_password("kept-password")
    assert "Password: kept-password" in out


def test_load_demo_keeps_a_project_that_already_exists(db, tmp_path, seed_importer):
    ProjectFactory(slug="demo", name="Renamed by the admin")

    run("load_demo", "--password-file", str(tmp_path / "p.txt"))

    assert Project.objects.get(slug="demo").name == "Renamed by the admin"


def test_fail_stale_jobs_fails_dead_imports_and_exports_and_leaves_live_ones(
    project, settings, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    from annotator.corpus.models import ImportJob
    from annotator.datasets.models import ExportJob

    settings.MEDIA_ROOT = tmp_path
    settings.JOB_STALE_AFTER = 60
    old, fresh = timezone.now() - timedelta(seconds=120), timezone.now()
    dead_import = ImportJob.objects.create(
        project=project, file="imports/x.jsonl", status="running", heartbeat_at=old
    )
    live_import = ImportJob.objects.create(
        project=project, file="imports/y.jsonl", status="running", heartbeat_at=fresh
    )
    dead_export = ExportJob.objects.create(
        project=project, format="jsonl", status="running", heartbeat_at=old
    )
    from annotator.assist.models import PredictionRun

    dead_run = PredictionRun.objects.create(
        project=project, kind="llm", status="running", heartbeat_at=old
    )

    out, _ = run("fail_stale_jobs")

    assert out.strip() == (
        f"Failed 1 import(s), 1 export(s) and 1 model run(s) without a heartbeat for 60 s: "
        f"imports [{dead_import.pk}], exports [{dead_export.pk}], runs [{dead_run.pk}]"
    )
    assert PredictionRun.objects.get(pk=dead_run.pk).worker_stopped
    statuses = {
        job.pk: job.status
        for job in ImportJob.objects.filter(pk__in=[dead_import.pk, live_import.pk])
    }
    assert statuses == {dead_import.pk: "failed", live_import.pk: "running"}
    assert ExportJob.objects.get(pk=dead_export.pk).worker_stopped


def test_import_threads_takes_a_folder_of_files(db, tmp_path):
    folder = tmp_path / "dump"
    (folder / "part").mkdir(parents=True)
    write_jsonl(folder / "1.jsonl", {"type": "article", "id": "a-1", "title": "T"})
    write_jsonl(
        folder / "part" / "2.jsonl",
        {"type": "comment", "id": "c-1", "article_id": "a-1", "text": "Hi"},
    )

    out, _ = run("import_threads", str(folder), "--project", "p")

    assert f"{folder}: 1 articles added (0 already there), 1 comments added" in out
    assert Comment.objects.get().article.source_id == "a-1"


def test_import_threads_reads_the_encoding_it_is_told_and_refuses_unknown_ones(db, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(
        b'{"type": "article", "id": "a-1", "title": "Caf\xe9 \x93quoted\x94"}\n'
    )  # Windows-1252
    with pytest.raises(CommandError, match=r"looks like Windows-1252 \(cp1252\)"):
        run("import_threads", str(path), "--project", "p")
    with pytest.raises(CommandError, match="--encoding klingon: no such encoding"):
        run("import_threads", str(path), "--project", "p", "--encoding", "klingon")

    run("import_threads", str(path), "--project", "p", "--encoding", "cp1252")

    assert Article.objects.get().title == "Café “quoted”"


def test_import_threads_prints_what_the_file_lacked(db, tmp_path, monkeypatch):
    from annotator.corpus.importers import loader
    from annotator.corpus.importers.records import Notice

    real = loader.load_records

    def with_a_notice(project, read_records, filename, **options):
        def records(read_pass):
            yield from read_records(read_pass)
            yield Notice("stubs", 4, "{count} comments were not in the file")

        return real(project, records, filename, **options)

    monkeypatch.setattr(loader, "load_records", with_a_notice)

    out, _ = run("import_threads", str(SAMPLE), "--project", "p")

    assert "\n  4 comments were not in the file\n" in out


def test_import_threads_groups_a_label_studio_export_into_articles_by_a_data_field(db):
    export = Path(__file__).resolve().parents[2] / "fixtures/samples/labelstudio_export.json"
    out, _err = run("import_threads", str(export), "--project", "ls", "--article-field", "article")
    assert "2 articles added" in out
    assert sorted(Article.objects.values_list("source_id", flat=True)) == [
        "sf-aleppo-2016-12-08",
        "sf-lavrov-2016-12-09",
    ]


def test_an_article_field_for_a_format_without_fields_is_refused(db):
    with pytest.raises(CommandError, match="applies to Label Studio and doccano exports, not"):
        run("import_threads", str(SAMPLE), "--project", "x", "--article-field", "thread")
    assert not Comment.objects.exists()
